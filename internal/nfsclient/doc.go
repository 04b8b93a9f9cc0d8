// Package nfsclient is a small NFSv3 client over TCP: the portmapper's
// GETPORT (PMAP v2), MOUNT v3 (MNT, UMNT, EXPORT) and the NFSv3 procedures
// an evidence copy needs (NULL, GETATTR, SETATTR, LOOKUP, READ, WRITE,
// CREATE, MKDIR, REMOVE, RMDIR, READDIRPLUS, FSSTAT, FSINFO, COMMIT).
//
// Calls are pipelined: any number of goroutines may call on one Conn at
// once, each call's reply is matched to it by xid, and a context ends the
// wait for one call without disturbing the others. FileWriter keeps several
// WRITEs in flight on one connection, as ESXi's NFS client does.
//
// The package speaks ONC RPC (RFC 5531) with record marking and AUTH_SYS
// credentials, and shares its XDR (RFC 4506) coder, internal/xdr, with the
// sink. It is used by the simulated ESXi host (esxsim) to mount the
// evidence sink, and by tests.
package nfsclient
