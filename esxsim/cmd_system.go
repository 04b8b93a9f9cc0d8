package esxsim

import (
	"fmt"
	"strings"
	"time"
)

func cmdHostname(e *env) int {
	h := e.h.sc.Host
	if len(e.args) > 1 && (e.args[1] == "-f" || e.args[1] == "--fqdn") && h.Domain != "" {
		fmt.Fprintf(e.stdout, "%s.%s\n", h.Hostname, h.Domain)
		return 0
	}
	if len(e.args) > 1 && !strings.HasPrefix(e.args[1], "-") {
		e.errf("sethostname: Operation not permitted")
		return 1
	}
	fmt.Fprintln(e.stdout, h.Hostname)
	return 0
}

// cmdUname is uname as ESXi's VMkernel answers it.
func cmdUname(e *env) int {
	h := e.h.sc.Host
	f := map[byte]string{
		's': "VMkernel", 'n': h.Hostname, 'r': h.Version,
		'v': "#1 SMP Release build-" + h.Build + " " + h.BuildDate,
		'm': "x86_64", 'p': "unknown", 'i': "unknown", 'o': "GNU/Linux",
	}
	var want []byte
	for _, a := range e.args[1:] {
		if !strings.HasPrefix(a, "-") {
			e.errf("extra operand '%s'", a)
			return 1
		}
		for _, c := range a[1:] {
			if c == 'a' {
				// busybox prints -a as -snrvmo (ESXi 5.5: "... x86_64 GNU/Linux").
				want = append(want, 's', 'n', 'r', 'v', 'm', 'o')
				continue
			}
			if _, ok := f[byte(c)]; !ok {
				e.errf("invalid option -- '%c'", c)
				return 1
			}
			want = append(want, byte(c))
		}
	}
	if len(want) == 0 {
		want = []byte{'s'}
	}
	var parts []string
	for _, c := range "snrvmpio" {
		for _, w := range want {
			if byte(c) == w {
				parts = append(parts, f[w])
				break
			}
		}
	}
	fmt.Fprintln(e.stdout, strings.Join(parts, " "))
	return 0
}

// cmdVmware is vmware -v / -l / -vl.
func cmdVmware(e *env) int {
	h := e.h.sc.Host
	v, l := false, false
	for _, a := range e.args[1:] {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		for _, c := range a[1:] {
			switch c {
			case 'v':
				v = true
			case 'l':
				l = true
			}
		}
	}
	if !v && !l {
		fmt.Fprintln(e.stderr, "Usage: vmware -v | -l | -vl")
		return 1
	}
	if v {
		fmt.Fprintf(e.stdout, "VMware ESXi %s build-%s\n", h.Version, h.Build)
	}
	if l {
		level := "GA"
		if h.Update != "" && h.Update != "0" {
			level = "Update " + h.Update
		}
		fmt.Fprintf(e.stdout, "VMware ESXi %s %s\n", h.Version, level)
	}
	return 0
}

func cmdLsusb(e *env) int {
	fmt.Fprintln(e.stdout, "Bus 001 Device 001: ID 0e0f:8003 VMware, Inc. Root Hub")
	fmt.Fprintln(e.stdout, "Bus 002 Device 001: ID 0e0f:8002 VMware, Inc. Root Hub")
	for _, u := range e.h.sc.USB {
		fmt.Fprintf(e.stdout, "Bus %03d Device %03d: ID %s %s\n", u.Bus, u.Device, u.ID, u.Name)
	}
	return 0
}

func cmdDate(e *env) int {
	t := e.h.now().UTC()
	for _, a := range e.args[1:] {
		if strings.HasPrefix(a, "+") {
			fmt.Fprintln(e.stdout, strftime(a[1:], t))
			return 0
		}
	}
	fmt.Fprintln(e.stdout, t.Format("Mon Jan _2 15:04:05 UTC 2006"))
	return 0
}

func strftime(f string, t time.Time) string {
	r := strings.NewReplacer("%Y", t.Format("2006"), "%m", t.Format("01"), "%d", t.Format("02"), "%H", t.Format("15"),
		"%M", t.Format("04"), "%S", t.Format("05"), "%s", fmt.Sprint(t.Unix()), "%D", t.Format("01/02/06"),
		"%T", t.Format("15:04:05"), "%F", t.Format("2006-01-02"), "%Z", "UTC", "%z", "+0000", "%y", t.Format("06"),
		"%b", t.Format("Jan"), "%a", t.Format("Mon"), "%e", t.Format("_2"), "%%", "%")
	return r.Replace(f)
}

func cmdWhoami(e *env) int {
	fmt.Fprintln(e.stdout, e.s.user)
	return 0
}
