// Package exporttest imports what export writes, the way the tools it is
// written for do, so tests can check it against the emulator.
package exporttest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/orgsnap/orgsnap/sfapi"
)

// ImportTree does what `sf data import tree --plan dir/plan.json` does:
// each data file of the plan, in order, as one sObject Tree request, with
// "@referenceId" values replaced by the Ids of the records imported
// before. It returns referenceId → new Id.
func ImportTree(ctx context.Context, c *sfapi.Client, dir string) (map[string]string, error) {
	var plan []struct {
		SObject string   `json:"sobject"`
		Files   []string `json:"files"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "plan.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &plan); err != nil {
		return nil, fmt.Errorf("plan.json: %w", err)
	}
	newID := map[string]string{}
	for _, p := range plan {
		for _, name := range p.Files {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return newID, err
			}
			var doc struct {
				Records []map[string]any `json:"records"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				return newID, fmt.Errorf("%s: %w", name, err)
			}
			for _, rec := range doc.Records {
				for k, v := range rec {
					if s, ok := v.(string); ok && strings.HasPrefix(s, "@") {
						if rec[k], ok = newID[s[1:]]; !ok {
							return newID, fmt.Errorf("%s: %s refers to %s, not imported before", name, k, s)
						}
					}
				}
			}
			tr, err := c.CreateTree(ctx, p.SObject, doc)
			if err != nil {
				return newID, fmt.Errorf("%s: %w", name, err)
			}
			for _, res := range tr.Results {
				newID[res.ReferenceID] = res.ID
			}
		}
	}
	return newID, nil
}
