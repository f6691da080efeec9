//go:build !unix

package spool

import (
	"errors"
	"os"
)

func lockDir(string) (*os.File, error) {
	return nil, errors.New("spool: not supported on this operating system")
}

func unlockDir(*os.File) {}
