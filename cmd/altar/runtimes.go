package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// toolsWidth is how much of a runtime's tool list the table shows.
const toolsWidth = 48

func newRuntimesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtimes",
		Short: "List the runtimes connected to a running gateway (admin key)",
		Long: `runtimes lists the runtimes connected to the gateway: id, language,
transport, health, circuit breaker state, calls in flight, the tools they
fulfil and how long ago they connected; then the plugins the gateway launches
(plugins: in altar.yaml), connected or not: state, pid, restarts and the
last error. It needs an admin key when the gateway has keys. With -o json, the ListRuntimesResponse as protojson.`,
		Args: cobra.NoArgs,
	}
	opts := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := opts.dial(cmd)
		if err != nil {
			return err
		}
		defer c.close()
		ctx, cancel := c.callContext(cmd.Context())
		defer cancel()
		resp, err := c.api.ListRuntimes(ctx, &altarv1.ListRuntimesRequest{})
		if err != nil {
			return refused(cmd, err)
		}
		w := cmd.OutOrStdout()
		if opts.json() {
			return writeProtoJSON(w, resp)
		}
		now := time.Now()
		t := newTable(w, "ID", "LANGUAGE", "TRANSPORT", "HEALTH", "BREAKER", "IN FLIGHT", "TOOLS", "CONNECTED")
		for _, rt := range resp.GetRuntimes() {
			tools := make([]string, len(rt.GetTools()))
			for i, tl := range rt.GetTools() {
				tools[i] = tl.GetContractName()
			}
			connected := "-"
			if rt.GetConnectedAt() != nil {
				connected = age(rt.GetConnectedAt().AsTime(), now)
			}
			t.row(rt.GetRuntimeId(), orDash(rt.GetLanguage()), orDash(rt.GetTransport()),
				enumName(rt.GetHealth().String(), "RUNTIME_HEALTH_"), orDash(rt.GetBreakerState()),
				strconv.FormatUint(uint64(rt.GetInFlight()), 10),
				orDash(truncate(strings.Join(tools, ","), toolsWidth)), connected)
		}
		if err := t.flush(); err != nil {
			return err
		}
		if len(resp.GetPlugins()) == 0 {
			return nil
		}
		// The plugins the gateway launches, connected or not: one that is
		// restarting or stays down shows here, and why.
		fmt.Fprintln(w)
		t = newTable(w, "PLUGIN", "STATE", "PID", "RESTARTS", "SINCE", "LAST ERROR")
		for _, p := range resp.GetPlugins() {
			since := "-"
			if p.GetSince() != nil {
				since = age(p.GetSince().AsTime(), now)
			}
			pid := "-"
			if p.GetPid() != 0 {
				pid = strconv.FormatInt(p.GetPid(), 10)
			}
			t.row(p.GetName(), p.GetState(), pid, strconv.FormatUint(uint64(p.GetRestarts()), 10), since, orDash(p.GetLastError()))
		}
		return t.flush()
	}
	return cmd
}
