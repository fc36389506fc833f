// Package quickstart holds the test of the README's quick start: it takes
// the Go snippet between the quickstart markers of README.md, builds it into
// a program around a real MCP server on the official Go SDK, runs it, and
// runs rsguard's conformance kit against it.
package quickstart
