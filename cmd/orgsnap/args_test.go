package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestInterspersedFlags(t *testing.T) {
	app := newApp()
	for _, c := range []struct{ in, want string }{
		// flags after arguments move in front of them, values with them
		{"diff A B --stat", "diff --stat A B"},
		{"diff A --object Task B", "diff --object Task A B"},
		{"diff A --object=Task B", "diff --object=Task A B"},
		// global flags after the command move in front of it
		{"log --json -n 3", "--json log -n 3"},
		{"diff A B --json --repo /r", "--json --repo /r diff A B"},
		{"--repo /r diff A B --stat", "--repo /r diff --stat A B"},
		// subcommands
		{"org show prod --repo /r", "--repo /r org show prod"},
		// "--" ends the flags; unknown dashes stay for urfave/cli to report
		{"find --object Contact -- --stat", "find --object Contact -- --stat"},
		{"diff A --no-such-flag", "diff A --no-such-flag"},
		{"diff --help", "diff --help"},
		// no command, or already in order: unchanged
		{"--version", "--version"},
		{"diff --stat A B", "diff --stat A B"},
	} {
		in := append([]string{"orgsnap"}, strings.Fields(c.in)...)
		want := append([]string{"orgsnap"}, strings.Fields(c.want)...)
		if got := interspersed(app, in); !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got[1:], want[1:])
		}
	}
}

// TestEveryCommandHasACategory: a command without one would be listed
// apart from the groups in `orgsnap --help`.
func TestEveryCommandHasACategory(t *testing.T) {
	for _, c := range newApp().Commands {
		if c.Category == "" {
			t.Errorf("command %q has no entry in commandCategory", c.Name)
		}
	}
}
