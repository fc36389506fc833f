//go:build !unix

package main

import "time"

// processCPU is not available here: the report has no CPU per call.
func processCPU() (time.Duration, bool) { return 0, false }
