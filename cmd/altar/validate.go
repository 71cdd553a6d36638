package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newValidateCommand is a placeholder; the manifest loader replaces it.
func newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check manifests and report every problem with file, line and field",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("validate: not implemented yet")
		},
	}
}
