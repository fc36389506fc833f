// Command loadgen measures, over real HTTP on loopback, what authorization
// costs an MCP server on the official Go SDK: concurrent clients call one
// tool in a loop (tools/call over Streamable HTTP, each client in its own
// stateful session, HTTP keep-alive), against the same server served three
// ways in one process:
//
//   - none: no authorization;
//   - rsguard: the wiring the README recommends, mcpguard.New's Endpoint
//     (JWT validation with the verified-token cache, session binding,
//     per-tool scopes) around gosdk.Handler;
//   - sdk: the SDK's own auth.RequireBearerToken with a golang-jwt +
//     keyfunc verifier, the tool's scope required on the route.
//
// Every client has one token (its own "sub"), minted by rsguard's test
// issuer on loopback, and sends it on every call to every server: the same
// tokens and keys for rsguard and the SDK's wiring. The modes run one after
// the other in each round, in an order rotated every round, so that the
// noise of a shared machine falls on all three alike; each ratio is taken
// within a round, and the report gives the median of the rounds' ratios
// and their interquartile range (how much they spread). Many short rounds
// (the default, 20 of 500ms) give more ratios, each taken over a shorter
// stretch of the machine's noise, than a few long ones. The run is bounded:
// warm-up and rounds × modes × duration, and -requests bounds the calls per
// mode per round.
//
// Usage, from the repository root:
//
//	go run -C examples ./loadgen [-clients 16] [-duration 500ms] [-rounds 20] [-warmup 1s]
//	    [-requests 0] [-alg ES256] [-modes none,rsguard,sdk] [-json] [-cpuprofile FILE]
//
// The servers run in a process of their own (loadgen starts itself again),
// the clients in this one: the report gives, besides requests/s and
// latencies, the server process's CPU time per call, which the noise of a
// shared machine moves much less than requests/s. With -cpuprofile, the
// server process profiles the measured rounds; each server's goroutines
// carry the pprof label mode=<mode>, so that, for example,
//
//	go tool pprof -top -cum -tagfocus=mode=rsguard FILE
//
// shows where the rsguard server spends its time.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/rsguard/rsguard/examples/internal/serve"
)

func main() {
	if os.Getenv(childEnv) == "1" {
		serve.Main("loadgen server", func(ctx context.Context, args []string, _, _ io.Writer) error {
			return childMain(ctx, args, os.Stdin, os.Stdout)
		})
		return
	}
	serve.Main("loadgen", runMain)
}

// runMain is the whole program: flags, the run, the table (or JSON) on
// stdout, a line per round on stderr.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := Config{Progress: stderr}
	var modes string
	var asJSON bool
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Clients, "clients", 16, "concurrent clients, each with its own token and sessions")
	fs.DurationVar(&cfg.Duration, "duration", 500*time.Millisecond, "measured time per mode per round")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured time per mode before the first round")
	fs.IntVar(&cfg.Rounds, "rounds", 20, "rounds; each runs every mode once, in a rotated order")
	fs.Int64Var(&cfg.MaxCalls, "requests", 0, "at most this many calls per mode per round (0: bounded by -duration only)")
	fs.StringVar(&cfg.Alg, "alg", "ES256", "the tokens' algorithm: ES256, RS256 or EdDSA")
	fs.StringVar(&modes, "modes", strings.Join(allModes, ","), "the modes to measure, comma-separated")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.ServerProfile, "cpuprofile", "", "write a CPU profile of the server process during the measured rounds to `file`")
	if err := serve.ParseArgs(fs, args); err != nil {
		return err
	}
	switch cfg.Alg {
	case "ES256", "RS256", "EdDSA":
	default:
		return fmt.Errorf("-alg %q: want ES256, RS256 or EdDSA", cfg.Alg)
	}
	cfg.Modes = strings.Split(modes, ",")

	fmt.Fprintf(stderr, "loadgen: %d clients, %s tokens, modes %s, %d round(s) of %s per mode (warm-up %s), GOMAXPROCS %d, %s\n",
		cfg.Clients, cfg.Alg, modes, cfg.Rounds, cfg.Duration, cfg.Warmup, runtime.GOMAXPROCS(0), runtime.Version())
	rep, err := run(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, rep)
	}
	writeTable(stdout, rep)
	return nil
}
