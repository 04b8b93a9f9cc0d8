module github.com/esxsink/esxsink

go 1.26.0

require (
	github.com/go-git/go-billy/v5 v5.9.2
	github.com/klauspost/compress v1.20.4
	github.com/urfave/cli/v2 v2.27.7
	github.com/willscott/go-nfs v0.0.4
	golang.org/x/sys v0.50.0
)

require go.yaml.in/yaml/v3 v3.0.6

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/vmware/govmomi v0.52.0
)

require (
	github.com/VividCortex/ewma v1.2.0 // indirect
	github.com/acarl005/stripansi v0.0.0-20180116102854-5a71ef0e047d // indirect
	github.com/clipperhouse/uax29/v2 v2.7.0 // indirect
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/cyphar/filepath-securejoin v0.6.1 // indirect
	github.com/kr/fs v0.1.0 // indirect
	github.com/mattn/go-runewidth v0.0.30
	github.com/pkg/sftp v1.13.12
	github.com/rasky/go-xdr v0.0.0-20170124162913-1a41d1a06c93 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/vbauerster/cupwriter v0.0.5 // indirect
	github.com/vbauerster/mpb/v8 v8.16.2
	github.com/willscott/go-nfs-client v0.0.0-20240104095149-b44639837b00 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
	golang.org/x/crypto v0.59.0
	golang.org/x/term v0.48.0
	mvdan.cc/sh/v3 v3.14.1
)
