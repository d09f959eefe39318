package main

import (
	"context"
	"fmt"
)

// cmdNLU is a placeholder until its issue lands.
func cmdNLU(ctx context.Context, env *environ, args []string) error {
	return fmt.Errorf("not available yet")
}
