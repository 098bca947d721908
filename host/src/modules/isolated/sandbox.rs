//! `sandbox: strict` for a module's runner process: it may create and write files only
//! beneath its own folder (Landlock: the write and make rights are handled, so reads —
//! `dlopen` included — stay open), may not signal other processes or reach abstract Unix
//! sockets (Landlock scopes), and may not open sockets of its own, run programs, change
//! files' modes, owners, times or attributes, or leave its namespaces (a seccomp deny-list,
//! answered `EACCES`): the module's HTTP client and store go through the server anyway.
//! `/dev/null` stays writable. The sandbox guards what the module may change, not what it
//! may read.
//!
//! Landlock covers only threads created after it, so [`restrict_files`] runs first, on the
//! main thread before the runtime starts; the seccomp filter is applied to every thread
//! (TSYNC) once the connection to the server is made, before the library is opened.

use std::collections::BTreeMap;
use std::path::Path;

use landlock::{
    path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope, ABI,
};
use seccompiler::{SeccompAction, SeccompFilter};

/// Restrict writes to `dir` and below. Returns how fully the kernel enforces it. Errors: the
/// ruleset could not be made or applied.
pub fn restrict_files(dir: &Path) -> Result<&'static str, String> {
    let abi = ABI::V6;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_write(abi))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules([dir], AccessFs::from_write(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(["/dev/null"], AccessFs::WriteFile)))
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("cannot restrict file access: {e}"))?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced",
        RulesetStatus::PartiallyEnforced => "partially enforced",
        RulesetStatus::NotEnforced => "not enforced (the kernel has no Landlock)",
    })
}

/// Give up every capability (effective, permitted, inheritable; the ambient set follows):
/// a runner started by a root server keeps root's user ID, not its privileges. Capabilities
/// belong to a thread, so this runs before the runner makes any. Errors: the kernel refused.
pub fn drop_capabilities() -> Result<(), String> {
    use rustix::thread::{set_capabilities, CapabilitySet, CapabilitySets};
    let none = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    set_capabilities(None, none).map_err(|e| format!("cannot drop capabilities: {e}"))
}

/// Deny new sockets to every thread of this process. Errors: the filter could not be built
/// or installed.
pub fn deny_sockets() -> Result<(), String> {
    let denied = [
        // Sockets of its own.
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_connect,
        libc::SYS_io_uring_setup,
        // Programs of its own (which would outlive the runner).
        libc::SYS_execve,
        libc::SYS_execveat,
        // Changing files it may not write: Landlock does not cover ownership, modes,
        // times or attributes.
        libc::SYS_chmod,
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        libc::SYS_chown,
        libc::SYS_fchown,
        libc::SYS_lchown,
        libc::SYS_fchownat,
        libc::SYS_utime,
        libc::SYS_utimes,
        libc::SYS_utimensat,
        libc::SYS_futimesat,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_fremovexattr,
        // Leaving the sandbox's view of the system.
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_chroot,
        libc::SYS_pivot_root,
        libc::SYS_ptrace,
        libc::SYS_process_vm_writev,
        // Other processes' memory and files (the server's, run by the same user).
        libc::SYS_process_vm_readv,
        libc::SYS_pidfd_getfd,
    ];
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        denied.iter().map(|n| (*n, Vec::new())).collect();
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("no seccomp for this architecture: {e:?}"))?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )
    .map_err(|e| format!("cannot build the socket filter: {e}"))?;
    let program: seccompiler::BpfProgram = filter
        .try_into()
        .map_err(|e| format!("cannot build the socket filter: {e:?}"))?;
    seccompiler::apply_filter_all_threads(&program)
        .map_err(|e| format!("cannot install the socket filter: {e}"))
}
