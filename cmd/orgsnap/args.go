package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"
)

// runApp runs the app on args (args[0] is the program name) after
// interspersed has put every flag where urfave/cli looks for it.
func runApp(ctx context.Context, app *cli.App, args []string) error {
	return app.RunContext(ctx, interspersed(app, args))
}

// interspersed lets flags follow arguments, as in git: `orgsnap diff A B
// --stat` and `orgsnap log --json` mean what they say. urfave/cli stops
// reading a command's flags at its first argument, and reads the global
// flags (--repo, --json, …) only before the command name; so this moves
// each flag the command knows in front of the command's arguments, and
// each global flag written after the command in front of the command.
// A flag's value moves with it. "--" ends the flags: everything after it
// stays an argument. Anything that is not a known flag is left where it
// is, for urfave/cli to report.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	global, cmdPath := []string{}, []string{}
	i := 1
	flags, cmds := app.Flags, app.Commands
	atTop := true
	for {
		for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" && args[i] != "--" {
			n := flagSpan(flags, args, i)
			if n == 0 {
				break
			}
			if atTop {
				global = append(global, args[i:i+n]...)
			} else {
				cmdPath = append(cmdPath, args[i:i+n]...)
			}
			i += n
		}
		if i >= len(args) || len(cmds) == 0 {
			break
		}
		cmd := findCommand(cmds, args[i])
		if cmd == nil {
			break
		}
		cmdPath = append(cmdPath, args[i])
		i++
		if cmd.SkipFlagParsing {
			return concat(args[:1], global, cmdPath, args[i:])
		}
		flags, cmds, atTop = cmd.Flags, cmd.Subcommands, false
	}
	if atTop {
		return args // no command: nothing to move
	}
	var own, positional []string
	for i < len(args) {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			if n := flagSpan(flags, args, i); n > 0 {
				own = append(own, args[i:i+n]...)
				i += n
				continue
			}
			if n := flagSpan(app.Flags, args, i); n > 0 {
				global = append(global, args[i:i+n]...)
				i += n
				continue
			}
		}
		positional = append(positional, a)
		i++
	}
	return concat(args[:1], global, cmdPath, own, positional)
}

// flagSpan is how many arguments the flag at args[i] takes up among flags
// (1, or 2 when its value is the next argument), or 0 if it is not one of
// them. The help flag is every command's.
func flagSpan(flags []cli.Flag, args []string, i int) int {
	name, hasValue := strings.TrimLeft(args[i], "-"), false
	if k := strings.IndexByte(name, '='); k >= 0 {
		name, hasValue = name[:k], true
	}
	if name == "" {
		return 0
	}
	if name == "help" || name == "h" {
		return 1
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if tv, ok := f.(interface{ TakesValue() bool }); ok && tv.TakesValue() && !hasValue && i+1 < len(args) {
				return 2
			}
			return 1
		}
	}
	return 0
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
