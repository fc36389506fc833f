package apikey

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// reportCSVHeader names the columns of [Report.WriteCSV].
var reportCSVHeader = []string{
	"client", "state", "status", "cutoff", "api_key_accepted", "api_key_rejected", "bearer",
	"policy_refused", "last_api_key", "last_bearer", "key_ids",
}

// WriteCSV writes the report as CSV (RFC 4180) to w: a header row, then one
// row per client with the columns client, state, status, cutoff,
// api_key_accepted, api_key_rejected and bearer (counts of the window),
// policy_refused, last_api_key, last_bearer and key_ids (the ids of the
// client's keys, space-separated). Times are RFC 3339, empty when zero. The
// per-day counts are in the JSON form only.
//
// A cell that a spreadsheet would read as a formula — one that starts with
// "=", "+", "-", "@", a tab or a carriage return, as a client name from
// configuration may — is written with a leading "'" (OWASP, CSV injection),
// so it is shown as text.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(reportCSVHeader); err != nil {
		return err
	}
	row := make([]string, len(reportCSVHeader))
	for _, c := range r.Clients {
		ids := make([]string, len(c.Keys))
		for i, k := range c.Keys {
			ids[i] = k.ID
		}
		row = append(row[:0],
			c.Client, string(c.State), string(c.Status), csvTime(c.Cutoff),
			strconv.FormatUint(c.APIKey.Accepted, 10), strconv.FormatUint(c.APIKey.Rejected, 10),
			strconv.FormatUint(c.Bearer, 10), strconv.FormatUint(c.PolicyRefused, 10),
			csvTime(c.LastAPIKey), csvTime(c.LastBearer), strings.Join(ids, " "))
		for i, cell := range row {
			row[i] = csvCell(cell)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCell returns s, with a leading "'" when a spreadsheet would take it
// for a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
