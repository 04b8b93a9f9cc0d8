package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/nfssink"
	"github.com/esxsink/esxsink/orchestrator"
	"github.com/esxsink/esxsink/report"
	"github.com/esxsink/esxsink/vsphere"
)

// fleetFlags are collect's flags for a fleet run (--vcenter).
func fleetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "enable-ssh", Usage: "with --vcenter: start TSM-SSH through the API on each host where it is stopped, for the run only; its state and policy are restored afterwards, also on error and Ctrl-C (each change is a custody record)"},
		&cli.StringSliceFlag{Name: "cluster", Usage: "with --vcenter: collect the VMs of this cluster's hosts (repeatable; with --vm, look only there)"},
		&cli.StringSliceFlag{Name: "esx-host", Usage: "with --vcenter: collect the VMs of this host, by its inventory name (repeatable; with --vm, look only there)"},
		&cli.IntFlag{Name: "ssh-port", Value: 22, Usage: "with --vcenter: SSH port of every host (each is reached at its management address)"},
		&cli.IntFlag{Name: "parallel-hosts", Value: 1, Usage: "with --vcenter: collect this many hosts at once"},
		&cli.StringFlag{Name: "host-passwords", Usage: "with --vcenter: a file of lines `HOST PASSWORD` giving hosts their own root passwords (HOST: inventory name or management address); hosts not listed use --password-file, $ESXSINK_PASSWORD or a prompt naming the host"},
		sinceFlag("with --vcenter --host-artifacts"),
		&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "with --vcenter: accept a host's SSH key that --known-hosts does not vouch for, and record it in the custody log (a changed key is always refused)"},
	}
}

// fleetHost is one host of a fleet run and what became of it.
type fleetHost struct {
	group vsphere.HostGroup
	name  string
	// addr is where SSH reaches it: its management address and --ssh-port.
	addr string
	ip   netip.Addr
	// refused says why the host is not touched ("" when it is collected).
	refused string
	// failed says why its collect failed ("" when it did not).
	failed error

	conn    *orchestrator.Conn
	session *orchestrator.Session
	plan    *orchestrator.Plan
	outcome *orchestrator.Outcome
	// vmx are the selected VMs' .vmx paths as the host names them.
	vmx []string
	// tri is the host's own triage (--host-artifacts), into its own
	// folder of host artifacts.
	tri *orchestrator.TriageResult
	// selectedErr names selected VMs the host's own view does not have.
	selectedErr error
	restore     func()
}

// fleetRun is one collect --vcenter: every host of the selection into
// one case, one sink and one custody log.
type fleetRun struct {
	c      *cli.Context
	f      *collectFlags
	cc     *collectCase
	client *vsphere.Client
	runID  string
	// inv is the API's inventory, as read at the start of the run.
	inv *vsphere.Inventory
	// resume are the files earlier runs into the case verified (--resume).
	resume map[string]map[string]orchestrator.Verified
	hosts  []*fleetHost

	// passwords are the hosts' own SSH passwords (--host-passwords);
	// ask serialises password prompts of hosts logging in at once.
	passwords hostPasswords
	ask       sync.Mutex

	// kept is the vCenter-side evidence kept (--host-artifacts); missed
	// the parts of it that could not be read (recorded as not collected).
	kept   []custody.Kept
	missed []custody.Uncollected

	mu       sync.Mutex
	restores []func()
}

// record appends a custody record; a refused record stops the run.
func (r *fleetRun) record(typ string, data any) error {
	_, err := r.cc.log.Append(typ, data)
	return err
}

// runVCenterCollect is collect --vcenter: VMs chosen through the vSphere
// API, grouped by the host that runs them, each host collected over SSH
// and NFS as collect --host does, into one case.
func runVCenterCollect(c *cli.Context, f *collectFlags) (err error) {
	for _, flag := range []string{"host", "host-key", "unregistered", "usb", "sink", "memory"} {
		if c.IsSet(flag) {
			return usageError(fmt.Errorf("--%s is not available with --vcenter yet: collect that host with --host", flag))
		}
	}
	if c.String("transport") != orchestrator.TransportNFS {
		return usageError(errors.New("--vcenter collects over NFS only (--transport nfs)"))
	}
	if len(vmArgs(c)) == 0 && !c.Bool("all") && len(c.StringSlice("cluster")) == 0 && len(c.StringSlice("esx-host")) == 0 {
		// --host-artifacts alone would select every VM of every host.
		return usageError(errors.New("with --vcenter, choose VMs or hosts: --all, --vm, --cluster or --esx-host"))
	}
	if c.String("known-hosts") == "" && !c.Bool("accept-new-host-keys") {
		return usageError(errors.New("say which SSH host keys to trust: --known-hosts FILE, and/or --accept-new-host-keys to accept and record the key of each host the file does not know"))
	}
	period, err := vsphere.ParseSince(c.String("since"), time.Now())
	if err != nil {
		return usageError(err)
	}
	if c.IsSet("since") && !c.Bool("host-artifacts") {
		return usageError(errors.New("--since goes with --host-artifacts: it bounds the vCenter events and tasks kept"))
	}
	if c.Int("parallel-hosts") < 1 {
		return usageError(fmt.Errorf("--parallel-hosts %d: collect at least one host at a time", c.Int("parallel-hosts")))
	}
	if kh := c.String("known-hosts"); kh != "" {
		if _, err := orchestrator.KnownHosts(kh); err != nil {
			return usageError(err)
		}
	}
	var passwords hostPasswords
	if file := c.String("host-passwords"); file != "" {
		if passwords, err = readHostPasswords(file); err != nil {
			return usageError(err)
		}
	}
	ctx, stop := interruptible(c.Context)
	defer stop()
	var resume map[string]map[string]orchestrator.Verified
	if c.Bool("resume") && f.caseDir != "" {
		// Read before the case is opened for appending.
		if resume, err = orchestrator.VerifiedByHost(f.caseDir); err != nil {
			return fmt.Errorf("--resume: read the custody log of %s: %w", f.caseDir, err)
		}
	}
	cc, err := openCollectCase(ctx, c, f)
	if err != nil {
		return err
	}
	defer cc.close()
	r := &fleetRun{c: c, f: f, cc: cc, runID: orchestrator.NewRunID(), resume: resume, passwords: passwords}
	collectStarted := false
	if cc.log != nil {
		defer func() {
			if err != nil && !collectStarted {
				_, _ = cc.log.Append(custody.TypeRunFailed, custody.Step{Host: c.String("vcenter"), RunID: r.runID, Error: err.Error()})
			}
		}()
	}
	var rec vsphere.Recorder
	if cc.log != nil {
		rec = cc.log
	}
	if r.client, err = dialVCenter(ctx, c, rec, r.runID, f.logger); err != nil {
		return err
	}
	defer r.client.Close(context.WithoutCancel(ctx))
	// Whatever happens below, every host's SSH service is put back as it
	// was (before the API session closes): restores are registered before
	// the service is touched.
	defer r.restoreAll()
	if r.inv, err = r.client.Inventory(ctx); err != nil {
		return err
	}
	sel := vsphere.FleetSelection{All: c.Bool("all"), VMs: vmArgs(c), Clusters: c.StringSlice("cluster"), Hosts: c.StringSlice("esx-host")}
	groups, orphans, err := r.inv.Group(sel)
	if err != nil {
		return usageError(err)
	}
	if c.Bool("host-artifacts") {
		if groups, err = withHostsInScope(r.inv, sel, groups); err != nil {
			return usageError(err)
		}
	}
	var notCollected []custody.Uncollected
	for _, vm := range orphans {
		notCollected = append(notCollected, custody.Uncollected{Host: custody.NoHost, What: "VM", Name: vsphere.UnescapeName(vm.Name), Path: vm.VMX,
			Why: "vCenter places it on no host (" + vm.ConnectionState + "): no host can collect it", Missed: true})
	}
	for _, g := range groups {
		h := &fleetHost{group: g, name: g.Host.Name}
		h.refused = r.refusal(h)
		if h.refused == "" {
			h.addr = net.JoinHostPort(h.ip.String(), strconv.Itoa(c.Int("ssh-port")))
		}
		r.hosts = append(r.hosts, h)
	}
	w := c.App.Writer
	if f.dryRun {
		return r.printDryRun(orphans)
	}
	if c.Bool("host-artifacts") {
		// Read before any host is changed: vCenter's view as found.
		var names []string
		for _, h := range r.hosts {
			names = append(names, h.name)
		}
		if r.kept, r.missed, err = keepVCenterEvidence(ctx, r.client, cc.log, cc.dir, r.runID, vsphere.EvidenceRequest{Hosts: names, Period: period, Inventory: r.inv}); err != nil {
			return err
		}
	}
	for _, h := range r.hosts {
		if h.refused == "" {
			continue
		}
		fmt.Fprintf(c.App.ErrWriter, "REFUSED host %s: %s\n", h.name, h.refused)
		if err := r.record(custody.TypeNote, custody.Note{Text: custody.FleetRefusalNote(h.name, h.refused)}); err != nil {
			return err
		}
		for _, vm := range h.group.VMs {
			notCollected = append(notCollected, custody.Uncollected{Host: h.name, RunID: r.runID, What: "VM", Name: vsphere.UnescapeName(vm.Name), Path: vm.VMX,
				Why: "host " + h.name + " refused: " + h.refused, Missed: true})
		}
		if c.Bool("host-artifacts") {
			notCollected = append(notCollected, custody.Uncollected{Host: h.name, RunID: r.runID, What: "host artifacts", Name: h.name,
				Why: "host " + h.name + " refused: " + h.refused, Missed: true})
		}
	}
	for _, u := range notCollected {
		if err := r.record(custody.TypeNotCollected, u); err != nil {
			return err
		}
	}
	var live []*fleetHost
	for _, h := range r.hosts {
		if h.refused == "" {
			live = append(live, h)
		}
	}
	started := time.Now()
	var total int64
	var sink *nfssink.Sink
	if len(live) > 0 {
		var sinkAddr string
		if sink, sinkAddr, err = r.startSink(ctx, live); err != nil {
			return err
		}
		defer sink.Close("collect done")
		// Plan every host before copying any, so that a file that
		// several hosts see is copied once, and that datastores of one
		// name on several hosts get a folder each whichever host is
		// discovered first.
		r.eachHost(ctx, live, func(ctx context.Context, h *fleetHost) {
			if h.failed = r.prepare(ctx, h); h.failed != nil && h.conn != nil {
				h.conn.Close()
			}
		})
		var invs []*orchestrator.Inventory
		for _, h := range live {
			if h.failed == nil {
				invs = append(invs, h.session.Inventory)
			}
		}
		folders := orchestrator.CaseFolders(r.cc.earlier, invs...)
		var plans []orchestrator.HostPlan
		for _, h := range live {
			if h.failed == nil {
				h.failed = r.plan(h, folders)
			}
			if h.failed == nil {
				plans = append(plans, orchestrator.HostPlan{Host: h.name, Plan: h.plan})
				continue
			}
			// A host that could not be planned: its VMs are named as
			// asked for and not collected, so the case says so.
			fmt.Fprintf(c.App.ErrWriter, "host %s NOT COLLECTED: %v\n", h.name, h.failed)
			for _, vm := range h.group.VMs {
				if err := r.record(custody.TypeNotCollected, custody.Uncollected{Host: h.name, RunID: r.runID, What: "VM", Name: vsphere.UnescapeName(vm.Name),
					Path: vm.VMX, Why: fmt.Sprintf("host %s: %v", h.name, h.failed), Missed: true}); err != nil {
					return err
				}
			}
		}
		orchestrator.DedupeFleet(plans)
		for _, hp := range plans {
			total += hp.Plan.Bytes
		}
		if free := freeSpace(r.cc.dir); free >= 0 && total > free {
			return fmt.Errorf("the hosts' plans need %s together but %s has %s free: choose fewer VMs or hosts, or another --case", humanBytes(total), r.cc.dir, humanBytes(free))
		}
		collectStarted = true
		progress, stopProgress := startProgress(ctx, chooseProgress(c.Bool("json-events"), c.Bool("quiet"), c.App.ErrWriter), w, c.App.ErrWriter, total, sink.Status)
		sinkHost := sinkAddr
		r.eachHost(ctx, live, func(ctx context.Context, h *fleetHost) {
			if h.failed == nil {
				h.failed = r.collect(ctx, h, sink, sinkHost, progress)
			}
		})
		stopProgress()
	}
	collectStarted = true
	r.restoreAll()
	return r.finish(ctx, sink, notCollected, time.Since(started))
}

// withHostsInScope adds to groups, for --host-artifacts, the hosts that
// --all, --cluster or --esx-host ask for but that run none of the
// selected VMs: their own artifacts are asked for all the same. (With
// --vm alone the hosts are those of the VMs.)
func withHostsInScope(inv *vsphere.Inventory, sel vsphere.FleetSelection, groups []vsphere.HostGroup) ([]vsphere.HostGroup, error) {
	if !sel.All && len(sel.Clusters) == 0 && len(sel.Hosts) == 0 {
		return groups, nil
	}
	hosts, err := inv.SelectHosts(sel)
	if err != nil {
		return nil, err
	}
	for _, h := range hosts {
		if !slices.ContainsFunc(groups, func(g vsphere.HostGroup) bool { return g.Host.Name == h.Name }) {
			groups = append(groups, vsphere.HostGroup{Host: h})
		}
	}
	slices.SortFunc(groups, func(a, b vsphere.HostGroup) int { return strings.Compare(a.Host.Name, b.Host.Name) })
	return groups, nil
}

// refusal says why h is not to be touched, or "".
func (r *fleetRun) refusal(h *fleetHost) string {
	host := h.group.Host
	switch {
	case host.ConnectionState != "" && host.ConnectionState != "connected":
		return fmt.Sprintf("it is %s to vCenter", host.ConnectionState)
	case host.InLockdown():
		return fmt.Sprintf("it is in lockdown mode (%s): it refuses SSH, and esxsink leaves its lockdown as it is; collect its VMs with the host's administrator, who may take it out of lockdown", host.LockdownMode)
	case host.SSH == nil:
		return "it does not say the state of its SSH service (TSM-SSH)"
	case !host.SSH.Running && !r.c.Bool("enable-ssh"):
		return "its SSH service (TSM-SSH) is stopped: add --enable-ssh to start it for the run (it is stopped again afterwards)"
	}
	for _, a := range host.ManagementAddresses {
		if ip, err := netip.ParseAddr(a); err == nil {
			h.ip = ip.Unmap()
			return ""
		}
	}
	return "vCenter gives no management address to reach it at"
}

// eachHost runs fn for each host, --parallel-hosts at a time.
func (r *fleetRun) eachHost(ctx context.Context, hosts []*fleetHost, fn func(context.Context, *fleetHost)) {
	slots := make(chan struct{}, r.c.Int("parallel-hosts"))
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			fn(ctx, h)
		}()
	}
	wg.Wait()
}

// startSink starts the run's one embedded sink, which every collected
// host mounts and nothing else may.
func (r *fleetRun) startSink(ctx context.Context, hosts []*fleetHost) (*nfssink.Sink, string, error) {
	var ips []netip.Addr
	for _, h := range hosts {
		if !slices.Contains(ips, h.ip) {
			ips = append(ips, h.ip)
		}
	}
	addr := r.c.String("sink-address")
	if addr == "" {
		// Our address on the route to the first host (no packet is sent).
		uc, err := net.Dial("udp", hosts[0].addr)
		if err != nil {
			return nil, "", fmt.Errorf("find our address toward %s (give --sink-address): %w", hosts[0].name, err)
		}
		addr = uc.LocalAddr().(*net.UDPAddr).IP.String()
		uc.Close()
	}
	var allowed []string
	for _, ip := range ips {
		allowed = append(allowed, ip.String())
	}
	if err := r.record(custody.TypeNote, custody.Note{Text: fmt.Sprintf("fleet run %s: the embedded sink on %s allows mounts only from the collected hosts: %s", r.runID, addr, strings.Join(allowed, ", "))}); err != nil {
		return nil, "", err
	}
	sink, err := startEmbeddedSink(ctx, r.c, r.cc.dir, addr, ips, r.f.piece, r.cc.log, r.f.logger)
	return sink, addr, err
}

// prepare opens SSH on h for the run when asked, connects, discovers the
// host and checks the API's view against its own (plan then plans it).
func (r *fleetRun) prepare(ctx context.Context, h *fleetHost) error {
	before, err := r.client.HostSSHService(ctx, h.name)
	if err != nil {
		return err
	}
	if !before.Running {
		// Registered before the start: a start that fails half-way is
		// undone too.
		r.addRestore(h, before)
		if _, err := r.client.StartSSH(ctx, h.name); err != nil {
			return err
		}
	}
	if h.conn, err = r.dial(ctx, h); err != nil {
		return err
	}
	outDir := filepath.Join(r.cc.dir, orchestrator.HostCommandsFolder, orchestrator.SafeName(h.name))
	// Each host has a run id of its own (our snapshot names, datastore
	// label, lease and mount check file carry it, and two hosts share
	// the sink's folder): the note ties it to the fleet's.
	hostRun := orchestrator.NewRunID()
	if err := r.record(custody.TypeNote, custody.Note{Text: custody.FleetHostNote(r.runID, h.name, h.addr, hostRun)}); err != nil {
		return err
	}
	h.session, err = orchestrator.OpenSession(h.conn, orchestrator.SessionOptions{Log: r.cc.log, OutDir: outDir, User: r.c.String("user"), RunID: hostRun, Logger: r.f.logger.With("host", h.name)})
	if err != nil {
		return err
	}
	inv, err := h.session.Discover(ctx)
	if err != nil {
		return err
	}
	vmx, err := r.crossCheck(h, inv)
	if err != nil {
		return err
	}
	h.vmx = vmx
	// The host's own artifacts, listed into a folder of its own (two
	// hosts' /etc/passwd never meet); plan adds them to its plan.
	h.tri, err = hostArtifacts(ctx, r.c, h.session.Runner, r.cc.log, nil, h.name, orchestrator.FleetTriageFolder(h.name), r.f.logger.With("host", h.name))
	return err
}

// plan plans h's selected VMs into the case's datastore folders.
func (r *fleetRun) plan(h *fleetHost, folders map[string]string) error {
	h.plan = &orchestrator.Plan{}
	var err error
	if len(h.vmx) > 0 {
		h.plan, err = h.session.Plan(orchestrator.Selection{VMs: h.vmx},
			orchestrator.PlanOptions{SinkFree: freeSpace(r.cc.dir), RDM: r.c.Bool("rdm"), Independent: r.c.Bool("independent"), Folders: folders})
	}
	if err != nil && h.conn != nil {
		h.conn.Close()
	}
	if err == nil && h.tri != nil {
		h.plan.AddTriage(h.tri)
	}
	return err
}

// crossCheck compares the VMs the API places on h with those SSH finds
// registered there (compareViews): each difference is recorded as an
// anomaly; a selected VM the host does not have is an error naming it
// (recorded as not collected). It returns the selected VMs' .vmx paths
// as the host names them.
func (r *fleetRun) crossCheck(h *fleetHost, inv *orchestrator.Inventory) ([]string, error) {
	selected := map[string]bool{}
	for _, vm := range h.group.VMs {
		selected[vm.MoRef] = true
	}
	v := compareViews(r.apiVMsOn(h.name), inv, selected)
	var missing []string
	for _, vm := range v.apiOnly {
		name := vsphere.UnescapeName(vm.Name)
		note := fmt.Sprintf("vCenter places VM %q (%s, %s) on host %s, but the host itself (over SSH) has no registered VM with that .vmx", name, vm.MoRef, vm.VMX, h.name)
		if err := r.record(custody.TypeAnomaly, custody.Step{Host: h.name, RunID: r.runID, VM: name, Note: note}); err != nil {
			return nil, err
		}
		if selected[vm.MoRef] {
			missing = append(missing, fmt.Sprintf("%q (%s)", name, vm.VMX))
			if err := r.record(custody.TypeNotCollected, custody.Uncollected{Host: h.name, RunID: r.runID, What: "VM", Name: name, Path: vm.VMX,
				Why: note, Missed: true}); err != nil {
				return nil, err
			}
		}
	}
	for _, vm := range v.sshOnly {
		note := fmt.Sprintf("host %s has VM %q (vmid %d, %s) registered, but vCenter does not place it there", h.name, vm.Name, vm.ID, vm.VMX)
		if err := r.record(custody.TypeAnomaly, custody.Step{Host: h.name, RunID: r.runID, VMID: vm.ID, VM: vm.Name, Note: note}); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		h.selectedErr = fmt.Errorf("host %s does not have the selected VM(s) vCenter places on it: %s", h.name, strings.Join(missing, ", "))
	}
	return v.selectedVMX, nil
}

// views is how the API's and the host's own lists of a host's VMs
// compare.
type views struct {
	// apiOnly: placed on the host by the API, not registered on it.
	apiOnly []vsphere.VM
	// sshOnly: registered on the host, not placed there by the API.
	sshOnly []*orchestrator.VM
	// selectedVMX are the selected VMs' .vmx paths as the host has them.
	selectedVMX []string
}

// compareViews matches the VMs the API places on a host (api) with the
// VMs the host has registered (inv), by .vmx path: the API's
// "[datastore] path" against the host's /vmfs/volumes path, whether the
// host names the datastore by label or UUID. selected are the morefs
// chosen for collection.
func compareViews(api []vsphere.VM, inv *orchestrator.Inventory, selected map[string]bool) views {
	var v views
	matched := map[*orchestrator.VM]bool{}
	for _, vm := range api {
		var found *orchestrator.VM
		if ds, rel, ok := vsphere.DatastorePath(vm.VMX); ok {
			found = inv.VMByVMX(ds, rel)
		}
		if found == nil || !found.Registered {
			v.apiOnly = append(v.apiOnly, vm)
			continue
		}
		matched[found] = true
		if selected[vm.MoRef] {
			v.selectedVMX = append(v.selectedVMX, found.VMX)
		}
	}
	for _, vm := range inv.VMs {
		if vm.Registered && !matched[vm] {
			v.sshOnly = append(v.sshOnly, vm)
		}
	}
	return v
}

// apiVMsOn lists every VM the API places on host (selected or not).
func (r *fleetRun) apiVMsOn(host string) []vsphere.VM {
	var out []vsphere.VM
	for _, vm := range r.inv.AllVMs() {
		if vm.Host == host {
			out = append(out, vm)
		}
	}
	return out
}

// dial connects to h over SSH, checking its key against --known-hosts
// and, with --accept-new-host-keys, accepting and recording a new one.
func (r *fleetRun) dial(ctx context.Context, h *fleetHost) (*orchestrator.Conn, error) {
	c := r.c
	var known ssh.HostKeyCallback
	if kh := c.String("known-hosts"); kh != "" {
		var err error
		if known, err = orchestrator.KnownHosts(kh); err != nil {
			return nil, err
		}
	}
	accept := c.Bool("accept-new-host-keys")
	check := func(host string, remote net.Addr, key ssh.PublicKey) error {
		if known != nil {
			err := known(host, remote, key)
			var uk *orchestrator.UnknownHostKeyError
			if err == nil || !errors.As(err, &uk) || !accept {
				return err
			}
		}
		fp := ssh.FingerprintSHA256(key)
		text := fmt.Sprintf("SSH host key of %s at %s accepted on first use (--accept-new-host-keys): %s %s", h.name, host, key.Type(), fp)
		if _, err := r.cc.log.Append(custody.TypeNote, custody.Note{Text: text}); err != nil {
			return fmt.Errorf("the custody log refused the record of %s's new host key: %w", h.name, err)
		}
		fmt.Fprintln(c.App.ErrWriter, "note: "+text)
		return nil
	}
	opts := orchestrator.SSHOptions{
		Addr: h.addr, User: c.String("user"), KeyFiles: c.StringSlice("key"), Agent: c.Bool("agent"),
		ConnectTimeout: c.Duration("connect-timeout"),
		Password:       r.passwords.forHost(h.name, h.ip.String(), passwordFunc(c.String("password-file"), c.App.ErrWriter), &r.ask),
		HostKey:        check,
	}
	conn, err := orchestrator.DialSSH(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to %s at %s: %w", h.name, h.addr, err)
	}
	return conn, nil
}

// collect copies h's plan into the sink.
func (r *fleetRun) collect(ctx context.Context, h *fleetHost, sink *nfssink.Sink, sinkHost string, progress func(orchestrator.Progress)) error {
	defer h.conn.Close()
	if len(h.plan.Items) == 0 && len(h.plan.NotCollected) == 0 {
		return h.selectedErr
	}
	rep, err := h.session.Collect(ctx, h.plan, orchestrator.CollectOptions{
		Sink: sink, SinkHost: sinkHost, Export: r.c.String("export"),
		Retries: r.c.Int("retries"), Logger: r.f.logger.With("host", h.name),
		TwoPass:     r.c.String("verify") == "two-pass",
		HostHashes:  r.f.hostHashes,
		Transport:   orchestrator.TransportNFS,
		Progress:    hostProgress(h.name, progress),
		Resume:      r.resume[h.conn.Addr()],
		Parallel:    r.c.Int("parallel"),
		Redial:      func(ctx context.Context) (*orchestrator.Conn, error) { return r.dial(ctx, h) },
		Workstation: workstation(),
		CaseID:      caseName(r.c, r.f.caseDir),
	})
	h.outcome = rep
	if h.restore != nil {
		h.restore()
	}
	return errors.Join(err, h.selectedErr)
}

// hostProgress names host in each of its files' progress events, since
// several hosts' files are in flight at once.
func hostProgress(host string, progress func(orchestrator.Progress)) func(orchestrator.Progress) {
	if progress == nil {
		return nil
	}
	return func(ev orchestrator.Progress) {
		ev.Host = host
		progress(ev)
	}
}

// addRestore registers putting h's SSH service back to before; it runs
// once, when h is done or when the run ends, whichever comes first.
func (r *fleetRun) addRestore(h *fleetHost, before custody.ServiceState) {
	var once sync.Once
	h.restore = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.c.Context), 2*time.Minute)
			defer cancel()
			_, err := r.client.RestoreSSH(ctx, h.name, before)
			if err != nil && ctx.Err() == nil {
				// The API session may be what was lost: log in again once.
				if c2, derr := dialVCenter(ctx, r.c, r.cc.log, r.runID, r.f.logger); derr == nil {
					_, err = c2.RestoreSSH(ctx, h.name, before)
					c2.Close(ctx)
				}
			}
			if err != nil {
				fmt.Fprintf(r.c.App.ErrWriter, "WARNING: could not restore TSM-SSH on %s (running %v, policy %s): %v; restore it by hand\n", h.name, before.Running, before.Policy, err)
				_, _ = r.cc.log.Append(custody.TypeCleanupFailed, custody.Step{Host: h.name, RunID: r.runID,
					Error: fmt.Sprintf("restore TSM-SSH to running=%v policy=%s: %v", before.Running, before.Policy, err)})
			}
		})
	}
	r.mu.Lock()
	r.restores = append(r.restores, h.restore)
	r.mu.Unlock()
}

// restoreAll restores every host's SSH service not yet restored.
func (r *fleetRun) restoreAll() {
	r.mu.Lock()
	rs := slices.Clone(r.restores)
	r.mu.Unlock()
	for _, f := range rs {
		f()
	}
}

// finish prints each host's outcome and the fleet's closing statement,
// and says how the run ended.
func (r *fleetRun) finish(ctx context.Context, sink *nfssink.Sink, notCollected []custody.Uncollected, d time.Duration) error {
	c := r.c
	w := c.App.Writer
	var errs []error
	var refused []string
	merged := &orchestrator.Outcome{RunID: r.runID}
	plan := &orchestrator.Plan{NotCollected: notCollected}
	for _, h := range r.hosts {
		switch {
		case h.refused != "":
			refused = append(refused, h.name+": "+h.refused)
			errs = append(errs, fmt.Errorf("host %s refused: %s", h.name, h.refused))
			continue
		case h.failed != nil:
			errs = append(errs, fmt.Errorf("host %s: %w", h.name, h.failed))
		}
		if h.plan != nil {
			plan.Items = append(plan.Items, h.plan.Items...)
			plan.NotCollected = append(plan.NotCollected, h.plan.NotCollected...)
			if m := missedError(h.plan); m != nil {
				errs = append(errs, fmt.Errorf("host %s: %w", h.name, m))
			}
		}
		if h.outcome != nil {
			if !c.Bool("json-events") && !c.Bool("json") {
				fmt.Fprintf(w, "\n== host %s (%s) ==\n", h.name, h.addr)
				printReport(w, h.outcome)
				printTriage(w, h.tri)
			}
			merged.Files = append(merged.Files, h.outcome.Files...)
			merged.Skipped = append(merged.Skipped, h.outcome.Skipped...)
			merged.Cleanup = append(merged.Cleanup, prefixed(h.name, h.outcome.Cleanup)...)
			merged.Undone = append(merged.Undone, prefixed(h.name, h.outcome.Undone)...)
			merged.Anomalies = append(merged.Anomalies, prefixed(h.name, h.outcome.Anomalies)...)
			if !h.outcome.OK() && h.failed == nil {
				errs = append(errs, fmt.Errorf("host %s: not every file verified", h.name))
			}
		}
	}
	for _, u := range notCollected {
		if u.Host == custody.NoHost {
			errs = append(errs, fmt.Errorf("VM %q is on no host", u.Name))
		}
	}
	if !c.Bool("json-events") && !c.Bool("json") {
		printKept(w, r.kept, r.missed)
	}
	plan.NotCollected = append(plan.NotCollected, r.missed...)
	if len(r.missed) > 0 {
		errs = append(errs, fmt.Errorf("%d part(s) of the vCenter-side evidence could not be read (recorded as not collected; see above)", len(r.missed)))
	}
	err := errors.Join(errs...)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted: our snapshots were removed, the mounts detached and every host's SSH service restored as far as the records above say; files verified so far are kept; run the same collect with --resume to go on: %w", err)
	}
	if c.Bool("json-events") {
		printOutcome(c, r.cc.dir, merged, nil, err)
	} else if c.Bool("json") {
		_ = writeJSONTo(w, merged)
	}
	if sink != nil {
		sink.Close("collect done")
	}
	if !c.Bool("json-events") && !c.Bool("json") {
		cl := closingOf(merged, plan, r.cc.dir, d, err, r.cc.log)
		cl.Refused, cl.Kept = refused, r.kept
		cl.HostTally, cl.Hosts = fleetHostLines(r.cc.dir)
		printClosing(w, cl)
	}
	if err != nil {
		return cli.Exit(withAdvice(err), 1)
	}
	return nil
}

func prefixed(host string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = host + ": " + l
	}
	return out
}

// printDryRun lists the hosts, the VMs each would collect and the hosts
// refused, changing nothing.
func (r *fleetRun) printDryRun(orphans []vsphere.VM) error {
	w := r.c.App.Writer
	var refused []string
	for _, h := range r.hosts {
		state := "collect over SSH at " + h.addr
		if h.refused != "" {
			state = "REFUSED: " + h.refused
			refused = append(refused, h.name)
		} else if h.group.Host.SSH != nil && !h.group.Host.SSH.Running {
			state += " (TSM-SSH started for the run, stopped afterwards)"
		}
		fmt.Fprintf(w, "host %s: %s\n", h.name, state)
		for _, vm := range h.group.VMs {
			fmt.Fprintf(w, "  vm %s  %s\n", hostQuote(vsphere.UnescapeName(vm.Name)), vm.VMX)
		}
	}
	for _, vm := range orphans {
		fmt.Fprintf(w, "NOT COLLECTED vm %s %s: on no host\n", hostQuote(vsphere.UnescapeName(vm.Name)), vm.VMX)
	}
	fmt.Fprintln(w, "dry run: nothing was changed on any host")
	if len(refused) > 0 || len(orphans) > 0 {
		return cli.Exit(fmt.Sprintf("hosts refused: %s", strings.Join(refused, ", ")), 1)
	}
	return nil
}

func hostQuote(s string) string { return strconv.Quote(s) }

// fleetHostLines reads the case as esxsink report does and says its
// hosts: their tally, and each host not refused in one line (refused
// hosts have lines of their own). A case that cannot be read says so.
func fleetHostLines(caseDir string) (string, []string) {
	rep, err := report.Load(caseDir)
	if err != nil {
		return "NOT KNOWN: " + err.Error(), nil
	}
	if rep.Fleet == nil {
		return "", nil
	}
	var lines []string
	for _, h := range rep.Fleet.Hosts {
		if h.Status != custody.HostRefused {
			lines = append(lines, report.HostLine(h.HostTally))
		}
	}
	return report.FleetLine(rep.Fleet), lines
}
