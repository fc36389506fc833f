// Package mcpcheck holds the proof of rsguard's checker command
// (github.com/rsguard/rsguard/cmd/mcpcheck) against running servers, ours
// and others': its tests build the command once and run it black-box, as a
// user would, reading its -json report and exit status, against
//
//   - the two example servers, examples/mcpserver (the official MCP Go SDK)
//     and examples/mcpgo (mark3labs/mcp-go), each built and run with its
//     in-memory development issuer: they pass, without credentials and with
//     the development client's (step-up on a tool included), and nothing of
//     the secret or a token appears in the command's output, JSON or table;
//   - the official MCP Go SDK's own auth wiring with no options,
//     auth.RequireBearerToken(verifier, nil) around mcp.NewStreamableHTTPHandler,
//     with a golang-jwt and keyfunc verifier, served in the test: it fails,
//     and the report says why (no challenge, no metadata, so credentials
//     are no use either);
//   - a small MCP server on the official MCP TypeScript SDK using that SDK's
//     requireBearerAuth middleware and mcpAuthMetadataRouter
//     (examples/interop/ts-server.mjs, run with node): what it does and does
//     not do, pinned check by check.
//
// Everything listens on 127.0.0.1; every child process is stopped when its
// test ends. The TypeScript test needs node (skipped without it, a failure
// with CI=true) and installs the pinned packages with
// examples/interop/install.sh. The package has no code of its own besides
// this comment.
package mcpcheck
