package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/vsphere"
)

// runVCenterInventory is inventory --vcenter: read-only, no case, so
// nothing is recorded.
func runVCenterInventory(c *cli.Context, logger *slog.Logger) error {
	ctx := c.Context
	client, err := dialVCenter(ctx, c, nil, "", logger)
	if err != nil {
		return err
	}
	defer client.Close(context.WithoutCancel(ctx))
	inv, err := client.Inventory(ctx)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSONTo(c.App.Writer, inv)
	}
	printVCenterInventory(c.App.Writer, inv, client.Connected().Thumbprint, client.Connected().TrustedBy)
	return nil
}

// printVCenterInventory prints datacenter → cluster → host → VMs (with
// their snapshots; their files are in --json), then each datacenter's
// datastores with the hosts that mount them. Hosts and VMs are in columns
// of one width across the whole tree, so that they line up however deep
// they sit.
func printVCenterInventory(w io.Writer, inv *vsphere.Inventory, thumbprint, trustedBy string) {
	kind := "vCenter"
	if inv.APIType == "HostAgent" {
		kind = "ESXi host"
	}
	fmt.Fprintf(w, "%s %s: %s\n", kind, inv.Endpoint, inv.Product)
	fmt.Fprintf(w, "certificate SHA-256 %s, trusted by %s\n", thumbprint, trustedBy)
	hostCols, vmCols := newColumns(5), newColumns(4)
	for _, dc := range inv.Datacenters {
		hostIndent := map[string]string{}
		for _, h := range dc.Hosts {
			hostIndent[h.Name] = hostIndentOf(h)
			hostCols.fit(hostIndent[h.Name], hostRow(h))
		}
		for _, vm := range dc.VMs {
			indent, ok := hostIndent[vm.Host]
			if !ok {
				indent = "  "
			}
			vmCols.fit(indent+"  ", vmRow(vm))
		}
	}
	for _, dc := range inv.Datacenters {
		fmt.Fprintf(w, "datacenter %s\n", dc.Name)
		vms := map[string][]vsphere.VM{}
		for _, vm := range dc.VMs {
			vms[vm.Host] = append(vms[vm.Host], vm)
		}
		printHost := func(h vsphere.Host) {
			indent := hostIndentOf(h)
			fmt.Fprintf(w, "%shost %s\n", indent, hostCols.line(indent, hostRow(h)))
			for _, vm := range vms[h.Name] {
				printVM(w, vm, indent+"  ", vmCols)
			}
		}
		for _, cl := range dc.Clusters {
			fmt.Fprintf(w, "  cluster %s (%d hosts)\n", cl.Name, len(cl.Hosts))
			for _, h := range dc.Hosts {
				if h.Cluster == cl.Name {
					printHost(h)
				}
			}
		}
		for _, h := range dc.Hosts {
			if h.Cluster == "" {
				printHost(h)
			}
		}
		if len(vms[""]) > 0 {
			fmt.Fprintln(w, "  VMs on no host:")
			for _, vm := range vms[""] {
				printVM(w, vm, "    ", vmCols)
			}
		}
		printDatastores(w, dc.Datastores)
	}
}

// hostIndentOf is how deep a host sits: under its cluster, or right under
// its datacenter.
func hostIndentOf(h vsphere.Host) string {
	if h.Cluster != "" {
		return "    "
	}
	return "  "
}

func printVM(w io.Writer, vm vsphere.VM, indent string, cols *columns) {
	fmt.Fprintf(w, "%svm %s\n", indent, cols.line(indent, vmRow(vm)))
	var walk func([]vsphere.Snapshot, string)
	walk = func(snaps []vsphere.Snapshot, pad string) {
		for _, s := range snaps {
			current := ""
			if s.ID == vm.CurrentSnapshot {
				current = "  (current)"
			}
			fmt.Fprintf(w, "%s    %ssnapshot %d %q  %s%s\n", indent, pad, s.ID, s.Name, s.Created.Format("2006-01-02T15:04:05Z"), current)
			walk(s.Children, pad+"  ")
		}
	}
	walk(vm.Snapshots, "")
}

func printDatastores(w io.Writer, stores []vsphere.Datastore) {
	if len(stores) == 0 {
		return
	}
	fmt.Fprintln(w, "  datastores:")
	cols := newColumns(4)
	rows := make([][]string, len(stores))
	for i, ds := range stores {
		uuid := ds.UUID
		if uuid == "" {
			uuid = "-"
		}
		rows[i] = []string{ds.Name, ds.Type, humanBytes(ds.FreeBytes) + " free of " + humanBytes(ds.CapacityBytes), "uuid " + uuid}
		cols.fit("", rows[i])
	}
	for i, ds := range stores {
		var hosts []string
		for _, m := range ds.Hosts {
			h := m.Host
			if !m.Mounted || !m.Accessible {
				h += " (not accessible)"
			}
			hosts = append(hosts, h)
		}
		fmt.Fprintf(w, "    %s  mounted by %s\n", cols.line("", rows[i]), strings.Join(hosts, ", "))
	}
}

func hostRow(h vsphere.Host) []string {
	addr := strings.Join(h.ManagementAddresses, ",")
	if addr == "" {
		addr = "-"
	}
	lockdown := "lockdown ?"
	switch h.LockdownMode {
	case vsphere.LockdownDisabled:
		lockdown = "lockdown off"
	case vsphere.LockdownNormal:
		lockdown = "LOCKDOWN normal"
	case vsphere.LockdownStrict:
		lockdown = "LOCKDOWN strict"
	}
	ssh := "SSH ?"
	if h.SSH != nil {
		state := "stopped"
		if h.SSH.Running {
			state = "running"
		}
		ssh = fmt.Sprintf("SSH %s (policy %s)", state, h.SSH.Policy)
	}
	state := h.ConnectionState
	if h.MaintenanceMode {
		state += ", maintenance"
	}
	return []string{h.Name, addr, fmt.Sprintf("ESXi %s build %s", h.Version, h.Build), state, lockdown, ssh}
}

func vmRow(vm vsphere.VM) []string {
	id := vm.MoRef
	if vm.VMID != 0 {
		id = fmt.Sprintf("vmid %d", vm.VMID)
	}
	power := vm.PowerState
	if vm.ConnectionState != "" && vm.ConnectionState != "connected" {
		power += ", " + vm.ConnectionState
	}
	if vm.Template {
		power += ", template"
	}
	var size int64
	for _, f := range vm.Files {
		size += f.Size
	}
	return []string{vm.Name, power, id, fmt.Sprintf("%d files %s", len(vm.Files), humanBytes(size)), vm.VMX}
}

// columns pads the first n cells of rows to common widths; the cells
// after them are printed as they are. A row's indent counts into its
// first cell, so that rows at different depths still line up.
type columns struct{ width []int }

func newColumns(n int) *columns { return &columns{width: make([]int, n)} }

func (c *columns) fit(indent string, row []string) {
	for i := range min(len(row), len(c.width)) {
		// fmt pads by runes, so widths are counted in runes too.
		n := utf8.RuneCountInString(row[i])
		if i == 0 {
			n += len(indent)
		}
		c.width[i] = max(c.width[i], n)
	}
}

func (c *columns) line(indent string, row []string) string {
	var b strings.Builder
	for i, cell := range row {
		if i > 0 {
			b.WriteString("  ")
		}
		width := 0
		if i < len(c.width) && i < len(row)-1 {
			width = c.width[i]
		}
		if i == 0 {
			width -= len(indent)
		}
		fmt.Fprintf(&b, "%-*s", max(width, 0), cell)
	}
	return b.String()
}
