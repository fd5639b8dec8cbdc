//go:build !linux

package cli

// trimStartupPages does nothing where madvise's MADV_PAGEOUT is not.
func trimStartupPages() error { return nil }
