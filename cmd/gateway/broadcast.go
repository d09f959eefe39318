package main

import (
	"context"
	"fmt"
)

// cmdBroadcast is a placeholder until its issue lands.
func cmdBroadcast(ctx context.Context, env *environ, args []string) error {
	return fmt.Errorf("not available yet")
}
