//go:build linux

package spool

import (
	"errors"
	"os"
	"syscall"
)

// mapSegment reserves size bytes of disk for f and maps them, so that an
// append is a copy into the page cache: it survives the process at once,
// without a system call. The blocks are reserved first (fallocate), so a
// full disk fails here with ENOSPC rather than later, on a write into the
// mapping. It returns nil, nil when the file system cannot reserve blocks:
// the spool then writes with write(2).
func mapSegment(f *os.File, size int64) ([]byte, error) {
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
			return nil, nil
		}
		return nil, err
	}
	mm, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		// Fall back to write(2): the file must then hold only what was
		// written, or a reader would take the reserved zeros for frames.
		if err := f.Truncate(0); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return mm, nil
}

func unmapSegment(mm []byte) {
	if mm != nil {
		_ = syscall.Munmap(mm)
	}
}
