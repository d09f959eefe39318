package main

import (
	"fmt"
	"io"

	"github.com/socialaid-vn/gateway/config"
)

func printConfig(w io.Writer) {
	fmt.Fprintln(w, "Configuration (environment variables):")
	for _, v := range config.Vars {
		def := v.Default
		if def == "" {
			def = "(unset)"
		}
		fmt.Fprintf(w, "\n  %s\n    default: %s\n    %s\n", v.Name, def, v.Doc)
	}
}
