package main

import (
	"testing"

	"github.com/rsguard/rsguard/examples/internal/mcpmain/mcpmaintest"
)

// TestPrintedCommand runs the program as the README's first command does and
// runs the command it prints, with bash and curl, for real: list_items.
func TestPrintedCommand(t *testing.T) { mcpmaintest.PrintedCommand(t, &program, "BOLT-M6") }

// TestRunWithIssuer runs the program against an outside issuer (-issuer).
func TestRunWithIssuer(t *testing.T) { mcpmaintest.RunWithIssuer(t, &program) }

// TestRunErrors checks that bad command lines and an unreachable issuer stop
// the program at start-up.
func TestRunErrors(t *testing.T) { mcpmaintest.RunErrors(t, &program) }
