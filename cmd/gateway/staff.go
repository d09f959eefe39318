package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/socialaid-vn/gateway/staff"
)

// cmdStaff manages console accounts (needs REDIS_URL; the embedded demo makes its own admin):
//
//	gateway staff add USERNAME --role admin|officer|viewer [--communes "Vũ Phúc,Trần Lãm"]
//	gateway staff passwd USERNAME
//	gateway staff list
//	gateway staff disable USERNAME   (and enable, unlock)
//
// The password is read from stdin when it is not a terminal (one line), else prompted twice
// without echo. Every change is written to the audit stream as done by "cli".
func cmdStaff(ctx context.Context, env *environ, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want add, passwd, list, disable, enable or unlock", errUsage)
	}
	op, rest := args[0], args[1:]
	var user, role, communes string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		val := func() (string, error) {
			if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
				return v, nil
			}
			if i+1 >= len(rest) {
				return "", fmt.Errorf("%w: %s needs a value", errUsage, a)
			}
			i++
			return rest[i], nil
		}
		var err error
		switch {
		case a == "--role" || strings.HasPrefix(a, "--role="):
			role, err = val()
		case a == "--communes" || strings.HasPrefix(a, "--communes="):
			communes, err = val()
		case strings.HasPrefix(a, "-"):
			return fmt.Errorf("%w: unknown flag %q", errUsage, a)
		case user == "":
			user = a
		default:
			return fmt.Errorf("%w: one USERNAME only", errUsage)
		}
		if err != nil {
			return err
		}
	}
	if op != "list" && user == "" {
		return fmt.Errorf("%w: missing USERNAME", errUsage)
	}
	if op != "add" && (role != "" || communes != "") {
		return fmt.Errorf("%w: --role and --communes go with add", errUsage)
	}
	cfg, conn, err := offlineRedis(ctx, env, "staff", embeddedOnlyInServe+" (which creates a demo admin and prints its password)")
	if err != nil {
		return err
	}
	defer conn.Close()
	_, names, err := dataCommunes(cfg)
	if err != nil {
		return err
	}
	st := staff.NewStore(conn.Client, staff.Options{Communes: names})
	audit := func(action string) {
		_ = st.Audit(ctx, staff.AuditEntry{Actor: "cli", Action: action, Target: user})
	}
	switch op {
	case "add":
		if role == "" {
			return fmt.Errorf("%w: --role admin|officer|viewer is required", errUsage)
		}
		pw, err := readPassword(env, true)
		if err != nil {
			return err
		}
		var cs []string
		for _, c := range strings.Split(communes, ",") {
			if c = strings.TrimSpace(c); c != "" {
				cs = append(cs, c)
			}
		}
		a, err := st.Add(ctx, user, staff.Role(role), cs, pw, false)
		if err != nil {
			return err
		}
		audit("staff_add")
		scope := "every commune"
		if len(a.Communes) > 0 {
			scope = strings.Join(a.Communes, ", ")
		}
		fmt.Fprintf(env.stdout, "added %s (%s; %s)\n", a.Username, a.Role, scope)
	case "passwd":
		pw, err := readPassword(env, true)
		if err != nil {
			return err
		}
		if err := st.SetPassword(ctx, user, pw, false); err != nil {
			return err
		}
		audit("staff_passwd")
		fmt.Fprintf(env.stdout, "password of %s changed; its sessions ended\n", user)
	case "disable", "enable":
		if err := st.SetDisabled(ctx, user, op == "disable"); err != nil {
			return err
		}
		audit("staff_" + op)
		fmt.Fprintf(env.stdout, "%s %sd\n", user, op)
	case "unlock":
		if err := st.Unlock(ctx, user); err != nil {
			return err
		}
		audit("staff_unlock")
		fmt.Fprintf(env.stdout, "%s unlocked\n", user)
	case "list":
		list, err := st.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tROLE\tCOMMUNES\tSTATE\tCREATED")
		for _, a := range list {
			state := "active"
			switch {
			case a.Disabled:
				state = "disabled"
			case a.MustChange:
				state = "must change password"
			}
			cs := "(all)"
			if len(a.Communes) > 0 {
				cs = strings.Join(a.Communes, ", ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Username, a.Role, cs, state, a.Created.Format("2006-01-02"))
		}
		return tw.Flush()
	default:
		return fmt.Errorf("%w: unknown staff command %q", errUsage, op)
	}
	return nil
}

// readPassword reads a new password: one line from stdin when it is not a terminal, otherwise
// prompted twice without echo.
func readPassword(env *environ, confirm bool) (string, error) {
	if f, ok := env.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.stderr, "password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", err
		}
		if confirm {
			fmt.Fprint(env.stderr, "again: ")
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(env.stderr)
			if err != nil {
				return "", err
			}
			if string(a) != string(b) {
				return "", errors.New("the two passwords differ")
			}
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(env.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}
