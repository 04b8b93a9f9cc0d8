// Package nfssink is the evidence sink: an NFSv3 server that an ESXi host
// mounts with esxcfg-nas and writes disk images into, which hashes every
// byte as it arrives and records everything in the case's custody log.
//
// go-nfs serves most of NFSv3. A front end of ours sits in front of it on
// every connection (frontend.go): it reads whole RPC records, answers the
// procedures that decide the evidence's integrity and speed itself — MOUNT,
// NFS WRITE, COMMIT, CREATE, FSINFO and every refusal of the write-once
// policy — and hands the rest to go-nfs over an in-memory pipe. Replies from
// both sides go out as whole records under one lock, so they never
// interleave. One file per owned procedure (nfs_write.go, mount.go, ...),
// following go-nfs's layout.
//
// The package knows nothing about ESXi; it knows NFS, files and hashes.
package nfssink
