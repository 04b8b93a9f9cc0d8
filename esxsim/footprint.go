package esxsim

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Command is one footprint record: a command line the host ran, as
// ESXi's shell.log records it, with its outcome.
type Command struct {
	Time     time.Time     `json:"time"`
	Session  int64         `json:"session"`
	User     string        `json:"user"`
	Remote   string        `json:"remote"`
	Kind     string        `json:"kind"` // exec, shell, api
	Line     string        `json:"line"`
	Exit     int           `json:"exit"`
	Duration time.Duration `json:"duration"`
}

// footprint keeps the record of every command and renders shell.log.
type footprint struct {
	h    *Host
	mu   sync.Mutex
	cmds []Command
	// kernel holds vmkernel.log lines (NFS events).
	kernel []string
	hostd  []string
}

func newFootprint(h *Host) *footprint { return &footprint{h: h} }

func (f *footprint) add(c Command) {
	f.mu.Lock()
	f.cmds = append(f.cmds, c)
	f.mu.Unlock()
}

// vmkernel appends a vmkernel.log line, with ESXi's time and world
// prefix.
func (f *footprint) vmkernel(format string, args ...any) {
	line := fmt.Sprintf("%s cpu%d:%d)%s", f.h.now().Format("2006-01-02T15:04:05.000Z"), 3, 2098000+len(f.kernel), fmt.Sprintf(format, args...))
	f.mu.Lock()
	f.kernel = append(f.kernel, line)
	f.mu.Unlock()
}

func (f *footprint) hostdLog(format string, args ...any) {
	line := fmt.Sprintf("%s info hostd[2099%03d] [Originator@6876 sub=Vimsvc.TaskManager] %s", f.h.now().Format("2006-01-02T15:04:05.000Z"), len(f.hostd)%1000, fmt.Sprintf(format, args...))
	f.mu.Lock()
	f.hostd = append(f.hostd, line)
	f.mu.Unlock()
}

// shellLog renders /var/log/shell.log.
func (f *footprint) shellLog() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, c := range f.cmds {
		if c.Kind == "api" {
			continue
		}
		fmt.Fprintf(&b, "%s shell[%d]: [%s]: %s\n", c.Time.UTC().Format("2006-01-02T15:04:05.000Z"), 2100000+c.Session, c.User, strings.ReplaceAll(c.Line, "\n", " "))
	}
	return b.String()
}

func (f *footprint) kernelLog() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.kernel, "\n") + "\n"
}

func (f *footprint) hostdText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.hostd, "\n") + "\n"
}

// Footprint returns every command run on the host so far, in order.
func (h *Host) Footprint() []Command {
	h.foot.mu.Lock()
	defer h.foot.mu.Unlock()
	return append([]Command(nil), h.foot.cmds...)
}

// KernelLog returns the host's vmkernel.log lines (NFS mounts, errors).
func (h *Host) KernelLog() []string {
	h.foot.mu.Lock()
	defer h.foot.mu.Unlock()
	return append([]string(nil), h.foot.kernel...)
}
