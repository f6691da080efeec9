//go:build !linux

package spool

import "os"

// mapSegment maps nothing: the spool writes with write(2).
func mapSegment(*os.File, int64) ([]byte, error) { return nil, nil }

func unmapSegment([]byte) {}
