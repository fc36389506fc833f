package scopes

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSkipString(t *testing.T) {
	var inputs []string
	for n := 0; n < 40; n++ {
		for _, tail := range []string{``, `\`, `\\`, `"`, `\"`, `\\"`, `"\\\"`} {
			inputs = append(inputs, strings.Repeat("a", n)+tail, tail+strings.Repeat("é", n)+tail)
		}
	}
	for _, s := range inputs {
		q, err := json.Marshal(s)
		require.NoError(t, err)
		b := append(append([]byte{}, q...), `,"\"x\\"`...)
		assert.Equal(t, len(q), skipString(b, 0), "skipString(%s)", b)
	}
}
