package main

import (
	"fmt"
	"os"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway/config"
)

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the gateway's configuration (altar.yaml and ALTAR_* variables)",
	}
	var path string
	printCmd := &cobra.Command{
		Use:   "print",
		Short: "Check the configuration and print it as `altar serve` would use it",
		Long: `Load the configuration the way ` + "`altar serve`" + ` does (the defaults, then the file,
then the ALTAR_* variables), check it, and print the result as YAML. API keys
are printed as their hashes, which is all the configuration holds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env := os.Environ()
			sf := serveFlags{configPath: path}
			file, err := config.Load(sf.resolveConfigPath(env), env)
			if err != nil {
				return printConfigError(cmd.ErrOrStderr(), err)
			}
			out, err := yaml.MarshalWithOptions(file, yaml.IndentSequence(true))
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), string(out))
			return nil
		},
	}
	printCmd.Flags().StringVar(&path, "config", "", "configuration file (default: $ALTAR_CONFIG, else ./"+config.DefaultPath+" if present)")
	cmd.AddCommand(printCmd)
	return cmd
}
