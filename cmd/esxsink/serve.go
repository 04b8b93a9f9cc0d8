package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/esxi"
	"github.com/esxsink/esxsink/internal/cliutil"

	"github.com/urfave/cli/v2"

	"github.com/esxsink/esxsink/digest"
	"github.com/esxsink/esxsink/hashlog"
	"github.com/esxsink/esxsink/nfssink"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the evidence sink: an NFSv3 server that hashes every byte an ESXi host writes to it",
		Description: `Serves CASE/evidence over NFSv3 until interrupted (Ctrl-C), then finalizes every
file and closes the custody log. On the ESXi host:

   esxcfg-nas -a -o <this workstation> -s /esxsink <label>
   dd if=/vmfs/volumes/<ds>/<vm>/<vm>-flat.vmdk of=/vmfs/volumes/<label>/<vm>-flat.vmdk bs=1M conv=noerror,sync
   esxcfg-nas -d <label>

ESXi finds the server through the portmapper on TCP 111, so a real host needs ports
111 and 2049 (run as root, or grant cap_net_bind_service, or use --portmap=rpcbind).`,
		Flags: append(caseFlags(true),
			&cli.StringFlag{Name: "address", Value: "0.0.0.0", Usage: "IP address to listen on (the one the ESXi host reaches)"},
			&cli.IntFlag{Name: "nfs-port", Value: 2049, Usage: "TCP port for NFSv3 and MOUNT v3"},
			&cli.StringFlag{Name: "portmap", Value: "auto", Usage: "portmapper: auto (builtin, or register with a running rpcbind), builtin, rpcbind, off"},
			&cli.IntFlag{Name: "portmap-port", Value: 111, Usage: "port of the portmapper (ESXi always asks TCP 111)"},
			&cli.StringFlag{Name: "export", Value: "/esxsink", Usage: "the only path clients may mount"},
			&cli.StringSliceFlag{Name: "allow", Usage: "client address or network allowed to mount, e.g. 10.0.0.21 or 10.0.0.0/24 (repeatable)"},
			&cli.BoolFlag{Name: "allow-any", Usage: "allow mounts from any address (not recommended)"},
			&cli.StringFlag{Name: "hash", Value: "md5,sha256", Usage: "hashes computed for every file: md5, sha1, sha256, comma-separated, or none"},
			&cli.StringFlag{Name: "piece", Value: "256MiB", Usage: "piecewise hash window that locates damage (e.g. 64MiB, 1GiB)"},
			&cli.DurationFlag{Name: "idle-finalize", Value: 60 * time.Second, Usage: "finalize a file after this long without writes"},
			&cli.StringFlag{Name: "space-reserve", Value: "16MiB", Usage: "free space kept for the custody log; writes beyond it get 'no space'"},
			&cli.IntFlag{Name: "max-connections", Value: 32, Usage: "NFS connections served at once; more are refused (ESXi uses a few per mount)"},
			&cli.DurationFlag{Name: "idle-timeout", Value: 6 * time.Minute, Usage: "close an NFS connection that sends nothing for this long (ESXi reconnects)"},
			&cli.DurationFlag{Name: "record-timeout", Value: 30 * time.Second, Usage: "drop a connection whose RPC record does not arrive whole within this time"},
			&cli.DurationFlag{Name: "reply-timeout", Value: 30 * time.Second, Usage: "drop a connection that does not take a reply within this time"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "diagnostic log level on stderr: debug, info, warn, error"},
		),
		Action: runServe,
	}
}

// caseFlags are shared by the commands that open a case.
func caseFlags(required bool) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "case", Required: required, Usage: "case folder (created if missing; evidence goes to CASE/evidence, the custody log to CASE/custody.jsonl)"},
		&cli.StringFlag{Name: "case-id", Usage: "case identifier, recorded when the case is opened (required for a new case)"},
		&cli.StringFlag{Name: "examiner", Usage: "examiner's name, recorded when the case is opened (required for a new case) and with every session"},
		&cli.StringFlag{Name: "evidence-number", Usage: "evidence number, as in ewfacquire or Guymager (recorded in the custody log and the report)"},
		&cli.StringFlag{Name: "description", Usage: "description of the evidence (recorded in the custody log and the report)"},
		&cli.StringFlag{Name: "notes", Usage: "examiner's notes for this session (recorded in the custody log and the report)"},
	}
}

func runServe(c *cli.Context) error {
	logger, err := newLogger(c.String("log-level"), os.Stderr)
	if err != nil {
		return usageError(err)
	}
	cfg, err := sinkConfig(c)
	if err != nil {
		return usageError(err)
	}
	caseDir := c.String("case")
	log, err := openCase(c, caseDir)
	if err != nil {
		return err
	}
	defer log.Close()
	cfg.Log = log
	cfg.Logger = logger
	cfg.EvidenceDir = hashlog.EvidenceDir(caseDir)
	cfg.StateDir = stateDir(caseDir)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sink, err := nfssink.New(cfg)
	if err != nil {
		return err
	}
	if err := sink.Start(ctx); err != nil {
		log.Append(custody.TypeNote, custody.Note{Text: "sink failed to start: " + err.Error()})
		return fmt.Errorf("%w%s", err, bindAdvice(err, "serve"))
	}
	sock, err := sink.ServeControl(ctx)
	if err != nil {
		sink.Close("control API failed: " + err.Error())
		return err
	}
	printServeBanner(c.App.Writer, sink, cfg, caseDir, sock)
	<-ctx.Done()
	stop()
	fmt.Fprintln(c.App.Writer, "stopping: finalizing open files ...")
	if err := sink.Close("interrupted by the examiner"); err != nil {
		return fmt.Errorf("stop sink: %w", err)
	}
	seq, head := log.Head()
	fmt.Fprintf(c.App.Writer, "sink stopped. custody log head: record %d, sha256 %s\nverify with: esxsink verify %s\n", seq, head, caseDir)
	return nil
}

func stateDir(caseDir string) string { return filepath.Join(caseDir, ".esxsink") }

func sinkConfig(c *cli.Context) (nfssink.Config, error) {
	var cfg nfssink.Config
	algs, err := digest.Parse(c.String("hash"))
	if err != nil {
		return cfg, err
	}
	if algs == nil {
		algs = []string{}
	}
	piece, err := parseSize(c.String("piece"))
	if err != nil {
		return cfg, fmt.Errorf("--piece: %w", err)
	}
	reserve, err := parseSize(c.String("space-reserve"))
	if err != nil {
		return cfg, fmt.Errorf("--space-reserve: %w", err)
	}
	allow, err := parseAllow(c.StringSlice("allow"))
	if err != nil {
		return cfg, err
	}
	if len(allow) == 0 && !c.Bool("allow-any") {
		return cfg, errors.New("say who may mount: --allow <ESXi host address or CIDR> (repeatable), or --allow-any")
	}
	addr := c.String("address")
	if addr == "0.0.0.0" {
		addr = ""
	}
	cfg = nfssink.Config{
		Address: addr, NFSPort: c.Int("nfs-port"), Portmap: c.String("portmap"), PortmapPort: c.Int("portmap-port"),
		Export: c.String("export"), Allow: allow, AllowAny: c.Bool("allow-any"), Hash: algs, PieceSize: piece,
		IdleFinalize: c.Duration("idle-finalize"), SpaceReserve: reserve, ScratchPrefixes: []string{esxi.LockFilePrefix},
		Limits: nfssink.Limits{MaxConns: c.Int("max-connections"), IdleTimeout: c.Duration("idle-timeout"),
			RecordTimeout: c.Duration("record-timeout"), WriteTimeout: c.Duration("reply-timeout")},
	}
	if cfg.IdleFinalize == 0 {
		cfg.IdleFinalize = -1
	}
	return cfg, nil
}

func parseAllow(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if p, err := netip.ParsePrefix(f); err == nil {
				out = append(out, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("--allow %q: not an IP address or CIDR network", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out, nil
}

func printServeBanner(w io.Writer, s *nfssink.Sink, cfg nfssink.Config, caseDir, sock string) {
	port := s.NFSAddr().(*net.TCPAddr).Port
	fmt.Fprintf(w, "esxsink %s: evidence sink running\n", version)
	fmt.Fprintf(w, "  case:      %s\n", caseDir)
	fmt.Fprintf(w, "  NFS:       %s (export %s)\n", s.NFSAddr(), cfg.Export)
	fmt.Fprintf(w, "  portmap:   %s\n", s.Status().Portmap)
	fmt.Fprintf(w, "  verifier:  %s\n  control:   %s\n", s.Verifier(), sock)
	label := "esxsink-" + sanitizeLabel(filepath.Base(caseDir))
	fmt.Fprintf(w, "on the ESXi host:\n  esxcfg-nas -a -o <this workstation's address> -s %s %s\n", cfg.Export, label)
	if port != 2049 {
		fmt.Fprintf(w, "  NOTE: NFS is on port %d, not 2049: a real ESXi host only reaches it through the portmapper on 111.\n", port)
	}
	fmt.Fprintln(w, "press Ctrl-C to finalize all files and stop")
}

func sanitizeLabel(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	return cliutil.NewLogger(level, w)
}
