package main

import (
	"context"
	"fmt"
)

func cmdChat(ctx context.Context, env *environ, args []string) error {
	return fmt.Errorf("not available yet")
}
