package main

import (
	"testing"

	"github.com/rsguard/rsguard/examples/internal/mcpmain/mcpmaintest"
)

// TestPrintedCommand runs the program with the development issuer and runs
// the command it prints, with bash and curl, for real: list_notes.
func TestPrintedCommand(t *testing.T) {
	mcpmaintest.PrintedCommand(t, &program, `"structuredContent":{"notes":[`)
}

// TestRunWithIssuer runs the program with -issuer and -resource.
func TestRunWithIssuer(t *testing.T) { mcpmaintest.RunWithIssuer(t, &program) }

// TestRunErrors: bad command lines and an unreachable issuer stop it.
func TestRunErrors(t *testing.T) { mcpmaintest.RunErrors(t, &program) }
