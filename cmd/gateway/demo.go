package main

import (
	"context"
	"fmt"
)

// cmdDemo is a placeholder until its issue lands.
func cmdDemo(ctx context.Context, env *environ, args []string) error {
	return fmt.Errorf("not available yet")
}
