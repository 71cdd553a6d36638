package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func newSessionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List, create and delete sessions on a running gateway",
		Long: `sessions lists the gateway's sessions: id, creation, expiry, time to live,
principal and metadata. With -o json, the ListSessionsResponse (every page)
as protojson.`,
		Args: cobra.NoArgs,
	}
	opts := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := opts.dial(cmd)
		if err != nil {
			return err
		}
		defer c.close()
		return c.listSessions(cmd)
	}
	cmd.AddCommand(newSessionsCreateCommand(opts), newSessionsDeleteCommand(opts))
	return cmd
}

func newSessionsCreateCommand(opts *clientOptions) *cobra.Command {
	var (
		id   string
		ttl  time.Duration
		meta []string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a session and print its id",
		Long: `create starts a session and prints its id alone, for scripts:

  S=$(altar sessions create --ttl 1h --meta user=ada)

With -o json, the whole Session as protojson.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl < 0 {
				return fmt.Errorf("--ttl must not be negative")
			}
			md, err := keyValues("--meta", meta)
			if err != nil {
				return err
			}
			c, err := opts.dial(cmd)
			if err != nil {
				return err
			}
			defer c.close()
			req := &altarv1.CreateSessionRequest{SessionId: id, Metadata: md}
			if ttl > 0 {
				req.Ttl = durationpb.New(ttl)
			}
			ctx, cancel := c.callContext(cmd.Context())
			defer cancel()
			resp, err := c.api.CreateSession(ctx, req)
			if err != nil {
				return refused(cmd, err)
			}
			if opts.json() {
				return writeProtoJSON(cmd.OutOrStdout(), resp.GetSession())
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), resp.GetSession().GetSessionId())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "proposed session id (the gateway may assign another)")
	f.DurationVar(&ttl, "ttl", 0, "time to live, refreshed on each use (0: the gateway's default)")
	f.StringArrayVar(&meta, "meta", nil, "metadata as KEY=VALUE (repeatable)")
	return cmd
}

func newSessionsDeleteCommand(opts *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID...",
		Aliases: []string{"rm"},
		Short:   "Delete sessions",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			c, err := opts.dial(cmd)
			if err != nil {
				return err
			}
			defer c.close()
			for _, id := range ids {
				ctx, cancel := c.callContext(cmd.Context())
				_, err := c.api.DestroySession(ctx, &altarv1.DestroySessionRequest{SessionId: id})
				cancel()
				if err != nil {
					return refused(cmd, err)
				}
				if !opts.json() {
					fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", id)
				}
			}
			if opts.json() {
				return writeProtoJSON(cmd.OutOrStdout(), &altarv1.DestroySessionResponse{})
			}
			return nil
		},
	}
}

// listSessions prints every page of ListSessions.
func (c *client) listSessions(cmd *cobra.Command) error {
	all := &altarv1.ListSessionsResponse{}
	req := &altarv1.ListSessionsRequest{}
	for {
		ctx, cancel := c.callContext(cmd.Context())
		resp, err := c.api.ListSessions(ctx, req)
		cancel()
		if err != nil {
			return refused(cmd, err)
		}
		all.Sessions = append(all.Sessions, resp.GetSessions()...)
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	w := cmd.OutOrStdout()
	if c.opts.json() {
		return writeProtoJSON(w, all)
	}
	now := time.Now()
	t := newTable(w, "ID", "CREATED", "EXPIRES IN", "TTL", "PRINCIPAL", "METADATA")
	for _, s := range all.GetSessions() {
		expires := "-"
		if s.GetExpiresAt() != nil {
			expires = s.GetExpiresAt().AsTime().Sub(now).Round(time.Second).String()
		}
		ttl := "-"
		if s.GetTtl() != nil {
			ttl = s.GetTtl().AsDuration().String()
		}
		created := "-"
		if s.GetCreatedAt() != nil {
			created = age(s.GetCreatedAt().AsTime(), now)
		}
		t.row(s.GetSessionId(), created, expires, ttl,
			orDash(s.GetSecurityContext().GetPrincipalId()), orDash(formatKeyValues(s.GetMetadata())))
	}
	return t.flush()
}

// keyValues parses KEY=VALUE words; the value may contain "=" and ",".
func keyValues(flag string, words []string) (map[string]string, error) {
	if len(words) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(words))
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, w)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s %q: %s is given twice", flag, w, k)
		}
		m[k] = v
	}
	return m, nil
}

// formatKeyValues renders a map as "k=v,k2=v2", sorted by key.
func formatKeyValues(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}
