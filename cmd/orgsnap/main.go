// Command orgsnap backs a Salesforce org up into a content-addressed,
// encrypted snapshot repository.
package main

import (
	"fmt"
	"os"
)

func main() {
	app := newApp()
	if err := app.Run(os.Args); err != nil {
		code := exitCode(err)
		fmt.Fprintln(os.Stderr, "orgsnap:", err)
		os.Exit(code)
	}
}
