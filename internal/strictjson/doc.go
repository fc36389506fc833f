// Package strictjson is the one JSON lexer of rsguard's readers of untrusted
// JSON: the JWS protected header and claims set (package validate) and the
// MCP JSON-RPC request body (package scopes). Each of them is a thin policy
// layer on a [Reader], which walks one JSON text (RFC 8259) value by value,
// checks all of it, and decodes only what its caller asks for, with few
// allocations and without reflection.
//
// Whatever a Reader accepts, encoding/json reads whole and in the same way:
// json.Unmarshal into an any succeeds and yields the values the Reader
// decodes (a fuzz target holds it to that). So that every other decoder reads
// it the same way too, the Reader is deliberately stricter than
// encoding/json, and refuses, in every value, read or skipped:
//   - a member name given twice in any object, at any depth, compared after
//     unescaping, so that "tid" and "\u0074id" are the same name (RFC 8259
//     §4 leaves duplicates to each parser: encoding/json takes the last,
//     others the first): [ErrDuplicate];
//   - an escaped lone surrogate, a high one ("\ud800") not followed by an
//     escaped low one, or a low one alone (encoding/json reads every lone
//     surrogate as U+FFFD, so that "\ud800" and "\udbff" would be one name,
//     while JavaScript keeps them apart): [ErrSurrogate];
//   - a number beyond ±math.MaxFloat64 (1e400: encoding/json cannot decode
//     it; underflow such as 1e-400 is 0 to both): [ErrRange];
//   - nesting deeper than [Reader.MaxDepth] arrays and objects: [ErrDepth];
//   - invalid UTF-8, including UTF-8-encoded surrogates, unless
//     [Reader.ReplaceInvalidUTF8] asks for encoding/json's reading (each byte
//     that is not part of a valid encoding read as U+FFFD): [ErrSyntax].
//
// Everything else encoding/json refuses is [ErrSyntax], and everything else it
// accepts, the Reader accepts. Member names are returned exactly: the policy
// layers, not the lexer, decide what to do with case variants (encoding/json
// matches struct fields case-insensitively).
package strictjson
