package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/contract"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func newValidateCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check manifests and report every problem with file, line and field",
		Long: `Validate loads each manifest (a file, or every *.yaml, *.yml and *.json
file in a folder) exactly as the gateway would, and reports every problem
of every file: its file, line and column, the field's path, what is wrong
and the rule that failed. Contracts defined twice across files are reported
too. Files named *.schema.json (the manifest's JSON Schema) are skipped.

The exit status is 0 when every manifest is valid and 1 otherwise.
See docs/manifests.md for the format.`,
		Example: `  altar validate manifests/
  altar validate manifests/*.yaml manifests/*.json
  altar validate --output json my-tools.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var write func(io.Writer, *validation) error
			switch output {
			case "text":
				write = writeValidationText
			case "json":
				write = writeValidationJSON
			default:
				return fmt.Errorf("--output must be text or json, not %q", output)
			}
			v := validate(args)
			if err := write(cmd.OutOrStdout(), v); err != nil {
				return err
			}
			if v.Failed > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// validation is the result of validating some paths, one entry per file.
type validation struct {
	Files     []*fileResult `json:"files"`
	OK        int           `json:"ok"`
	Failed    int           `json:"failed"`
	Skipped   int           `json:"skipped"`
	Contracts int           `json:"contracts"`
	Problems  int           `json:"problems"`
}

type fileResult struct {
	File      string         `json:"file"`
	Status    string         `json:"status"` // "ok", "fail" or "skip"
	Contracts int            `json:"contracts,omitempty"`
	Reason    string         `json:"reason,omitempty"` // why a file was skipped
	Errors    []*problemJSON `json:"errors,omitempty"`
}

type problemJSON struct {
	File    string `json:"file,omitempty"`
	Line    uint32 `json:"line,omitempty"`
	Column  uint32 `json:"column,omitempty"`
	Path    string `json:"path"`
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
	// Text is the line the text output prints (altarerr.FormatField).
	Text string `json:"text"`
}

// validate loads every manifest that args name and sorts the outcome by
// file, in the order the files were named.
func validate(args []string) *validation {
	v := &validation{}
	byFile := make(map[string]*fileResult)
	entry := func(file string) *fileResult {
		if r, ok := byFile[file]; ok {
			return r
		}
		r := &fileResult{File: file, Status: "ok"}
		byFile[file] = r
		v.Files = append(v.Files, r)
		return r
	}
	addProblems := func(fields []*altarv1.FieldError) {
		for _, f := range fields {
			r := entry(f.GetFile())
			r.Errors = append(r.Errors, &problemJSON{
				File: f.GetFile(), Line: f.GetLine(), Column: f.GetColumn(),
				Path: f.GetPath(), Rule: f.GetRule(), Message: f.GetMessage(),
				Text: altarerr.FormatField(f),
			})
		}
	}

	var files []string
	for _, arg := range args {
		if strings.HasSuffix(arg, ".schema.json") {
			if info, err := os.Stat(arg); err == nil && !info.IsDir() {
				r := entry(arg)
				r.Status, r.Reason = "skip", "a JSON Schema, not a manifest"
				continue
			}
		}
		found, err := contract.ExpandPaths(arg)
		addProblems(fieldErrors(err))
		for _, f := range found {
			entry(f)
			files = append(files, f)
		}
	}
	manifests, err := contract.LoadPaths(files...)
	addProblems(fieldErrors(err))
	for _, m := range manifests {
		entry(m.Source).Contracts = len(m.Contracts)
	}

	for _, r := range v.Files {
		switch {
		case r.Status == "skip":
			v.Skipped++
		case len(r.Errors) > 0:
			r.Status = "fail"
			v.Failed++
			v.Problems += len(r.Errors)
		default:
			v.OK++
			v.Contracts += r.Contracts
		}
	}
	return v
}

func fieldErrors(err error) []*altarv1.FieldError {
	if err == nil {
		return nil
	}
	e := altarerr.From(err)
	if len(e.Fields) == 0 {
		return []*altarv1.FieldError{{Message: e.Error()}}
	}
	return e.Fields
}

func writeValidationText(w io.Writer, v *validation) error {
	var b strings.Builder
	for _, r := range v.Files {
		switch r.Status {
		case "ok":
			fmt.Fprintf(&b, "ok    %s (%s)\n", r.File, plural(r.Contracts, "contract"))
		case "skip":
			fmt.Fprintf(&b, "skip  %s (%s)\n", r.File, r.Reason)
		default:
			fmt.Fprintf(&b, "FAIL  %s\n", r.File)
			for _, e := range r.Errors {
				fmt.Fprintf(&b, "      %s\n", e.Text)
			}
		}
	}
	total := v.OK + v.Failed
	switch {
	case v.Failed > 0:
		fmt.Fprintf(&b, "\n%d of %s failed with %s\n", v.Failed, plural(total, "manifest"), plural(v.Problems, "problem"))
	case total == 0:
		fmt.Fprintf(&b, "\nno manifests to validate\n")
	default:
		fmt.Fprintf(&b, "\n%s valid, %s\n", plural(total, "manifest"), plural(v.Contracts, "contract"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeValidationJSON(w io.Writer, v *validation) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
