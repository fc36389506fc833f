// Command apikeygen issues an API key for package apikey: it prints the key,
// once, for its owner to store, and the record to keep on the server, which
// holds the key's SHA-256 but never the key.
//
// Usage:
//
//	go run github.com/rsguard/rsguard/cmd/apikeygen -prefix sk_live_ -client billing-cron \
//		[-owner ops@example.com] [-tenant acme] [-scopes invoices:read,invoices:write] [-expires 2027-03-01T00:00:00Z]
//
// It writes to standard output, lines starting with "#" being for people:
//
//	# API key for client "billing-cron", id 3kTMd9QvB2xA. Store it now (secret manager, the client's configuration):
//	# it is shown only this once and cannot be recovered; the server keeps only its hash.
//	sk_live_3kTMd9QvB2xA_…
//	# Its record, without the key: append this line to your key file (JSON lines, apikey.ReadRecords), or insert it in your key table.
//	{"id":"3kTMd9QvB2xA","hash":"…","client_id":"billing-cron","scopes":["invoices:read"],"created":"2026-03-01T12:00:00Z"}
//
// The record line is the JSON form of the [apikey.Record] that
// [apikey.Generate] returns: [apikey.ReadRecords] reads a file of such
// lines into an [apikey.MemoryStore], and its members map to the columns of
// a key table (see the apikey package documentation). Created is the time
// of issue. The key is drawn from crypto/rand.
//
// Flags:
//
//	-prefix   the deployment's key prefix, such as sk_live_ (required; apikey.Config.Prefix)
//	-client   the client the key is issued to (record "client_id")
//	-owner    the principal the key acts for (record "owner"); -client or -owner is required
//	-tenant   the tenant the key belongs to (record "tenant"), optional
//	-scopes   the scopes the key grants, comma-separated RFC 6749 scope tokens; none if empty
//	-expires  when the key stops working, RFC 3339 and in the future; never if empty
//
// The values of -client, -owner and -tenant must be printable UTF-8 text:
// control characters (a newline, an escape sequence) and other
// non-printable ones are refused, as they would end up in logs and audit
// records.
//
// Errors go to standard error. The exit status is 0 on success, 2 on bad
// flags (nothing is printed to standard output then), and 1 if the output
// could not be written in full (a closed pipe, a full disk): the key has
// not been issued then, and any part of it that was printed must be
// discarded — run apikeygen again.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rsguard/rsguard/apikey"
)

func main() {
	// A write to a closed pipe then fails with EPIPE, which run reports,
	// instead of killing the process with SIGPIPE before it can say so.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, time.Now))
}

// run is the command: it parses args, generates a key and writes it and its
// record to stdout, or an error to stderr. It returns the exit status.
func run(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	fs := flag.NewFlagSet("apikeygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("prefix", "", "key prefix, such as sk_live_ (required)")
	client := fs.String("client", "", "client the key is issued to (record client_id)")
	owner := fs.String("owner", "", "principal the key acts for (record owner); -client or -owner is required")
	tenant := fs.String("tenant", "", "tenant the key belongs to (optional)")
	scopeList := fs.String("scopes", "", "comma-separated scopes the key grants, such as invoices:read,invoices:write")
	expires := fs.String("expires", "", "when the key stops working, RFC 3339 (default: never)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: apikeygen -prefix sk_live_ -client billing-cron [-owner …] [-tenant …] [-scopes a,b] [-expires 2027-03-01T00:00:00Z]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has written the error and the usage
	}
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "apikeygen: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run apikeygen -h for the flags")
		return 2
	}
	switch {
	case fs.NArg() != 0:
		return usageError("unexpected argument %q: every setting is a flag", fs.Arg(0))
	case *prefix == "":
		return usageError("-prefix is required: the key prefix your server's apikey.Config.Prefix names, such as sk_live_")
	case *client == "" && *owner == "":
		return usageError("-client or -owner is required: whom the key is for")
	}
	for _, f := range []struct{ name, value string }{{"client", *client}, {"owner", *owner}, {"tenant", *tenant}} {
		if !printable(f.value) {
			return usageError("-%s %q has a control or non-printable character, or is not UTF-8", f.name, f.value)
		}
	}
	issued := now().UTC().Truncate(time.Second)
	rec := apikey.Record{ClientID: *client, Owner: *owner, Tenant: *tenant, Created: issued}
	for _, s := range strings.Split(*scopeList, ",") {
		if s = strings.TrimSpace(s); s != "" {
			rec.Scopes = append(rec.Scopes, s)
		}
	}
	if *expires != "" {
		t, err := time.Parse(time.RFC3339, *expires)
		if err != nil {
			return usageError("-expires %q is not an RFC 3339 time, such as 2027-03-01T00:00:00Z", *expires)
		}
		if !t.After(issued) {
			return usageError("-expires %s is not in the future", *expires)
		}
		rec.Expires = t
	}
	key, rec, err := apikey.Generate(*prefix, rec)
	if err != nil {
		// A bad prefix or scope: Generate's errors are about its input
		// (crypto/rand does not fail), and never contain a key.
		return usageError("%v", err)
	}
	line, err := json.Marshal(rec)
	if err != nil {
		fmt.Fprintf(stderr, "apikeygen: encoding the record: %v\n", err)
		return 1
	}
	who := fmt.Sprintf("client %q", rec.ClientID)
	if rec.ClientID == "" {
		who = fmt.Sprintf("owner %q", rec.Owner)
	}
	// One write, checked: the key is issued only if all of it reached
	// stdout.
	var out strings.Builder
	fmt.Fprintf(&out, "# API key for %s, id %s. Store it now (secret manager, the client's configuration):\n", who, rec.ID)
	fmt.Fprintln(&out, "# it is shown only this once and cannot be recovered; the server keeps only its hash.")
	fmt.Fprintln(&out, key)
	fmt.Fprintln(&out, "# Its record, without the key: append this line to your key file (JSON lines, apikey.ReadRecords), or insert it in your key table.")
	fmt.Fprintf(&out, "%s\n", line)
	if _, err := io.WriteString(stdout, out.String()); err != nil {
		// err names the file, never the key.
		fmt.Fprintf(stderr, "apikeygen: writing standard output: %v\n", err)
		fmt.Fprintln(stderr, "apikeygen: no key was issued: discard any output you got and run apikeygen again")
		return 1
	}
	return 0
}

// printable reports whether s is UTF-8 text of printable characters (the
// space included): no control character, no format character such as a
// bidirectional override, no other space than U+0020.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
