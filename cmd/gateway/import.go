package main

import (
	"context"
	"fmt"
)

// cmdImport is a placeholder until its issue lands.
func cmdImport(ctx context.Context, env *environ, args []string) error {
	return fmt.Errorf("not available yet")
}
