package main

import (
	"context"
	"fmt"
)

func cmdServe(ctx context.Context, env *environ, args []string) error {
	return fmt.Errorf("not available yet")
}
