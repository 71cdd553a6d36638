package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway/auth"
)

// newKeyBytes is the size of a generated key: 256 bits, written as hex.
const newKeyBytes = 32

func newKeysCommand() *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Make API keys for altar.yaml",
	}
	var (
		generate bool
		id, role string
	)
	hash := &cobra.Command{
		Use:   "hash",
		Short: "Print the hash to configure for an API key (read from stdin, or --generate a new one)",
		Long: `Print the SHA-256 hash to put in altar.yaml (keys[].hash) or ALTAR_KEYS for an
API key. The key is read from standard input (one line), or made with
--generate, in which case the new key is printed too: it is shown only once and
stored nowhere, so hand it to its caller now.

  echo -n "$KEY" | altar keys hash
  altar keys hash --generate --id ci --role client`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains([]auth.Role{auth.RoleClient, auth.RoleRuntime, auth.RoleAdmin}, auth.Role(role)) {
				return fmt.Errorf("--role %q must be client, runtime or admin", role)
			}
			out := cmd.OutOrStdout()
			if !generate {
				key, err := readKey(cmd)
				if err != nil {
					return err
				}
				fmt.Fprintln(out, auth.HashKey(key))
				return nil
			}
			raw := make([]byte, newKeyBytes)
			if _, err := rand.Read(raw); err != nil {
				return err
			}
			key := hex.EncodeToString(raw)
			sum := auth.HashKey(key)
			fmt.Fprintf(out, "key:  %s\nhash: %s\n\n", key, sum)
			fmt.Fprintf(out, "The key is shown only this once; give it to its caller. Configure the hash:\n\n")
			fmt.Fprintf(out, "keys:\n  - {id: %s, role: %s, hash: %s}\n\nor ALTAR_KEYS=%s:%s:%s\n", id, role, sum, id, role, sum)
			return nil
		},
	}
	f := hash.Flags()
	f.BoolVar(&generate, "generate", false, "make a new random key and print it with its hash")
	f.StringVar(&id, "id", "key-1", "the key's id, for the printed configuration (with --generate)")
	f.StringVar(&role, "role", string(auth.RoleClient), "client, runtime or admin, for the printed configuration (with --generate)")
	keys.AddCommand(hash)
	return keys
}

// readKey reads one key from standard input. Surrounding spaces are not
// part of a key (the gateway trims what callers present).
func readKey(cmd *cobra.Command) (string, error) {
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no key on standard input (or use --generate)")
		}
		return "", err
	}
	key := strings.TrimSpace(line)
	if key == "" {
		return "", errors.New("the key on standard input is empty (or use --generate)")
	}
	return key, nil
}
