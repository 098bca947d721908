//! `modhost-module-runner SOCKET [--sandbox DIR]`: runs one module with `isolation: process` for the
//! `modhost` server that started it (see `modhost::modules::isolated`). Not for use by hand.

fn main() -> std::process::ExitCode {
    let Some(socket) = std::env::args().nth(1) else {
        eprintln!("modhost-module-runner: started by modhost for a module with `isolation: process`; usage: modhost-module-runner SOCKET");
        return std::process::ExitCode::from(2);
    };
    let sandbox = match (std::env::args().nth(2).as_deref(), std::env::args().nth(3)) {
        (Some("--sandbox"), Some(dir)) => Some(std::path::PathBuf::from(dir)),
        _ => None,
    };
    let code = modhost::modules::isolated::runner::main(&socket, sandbox.as_deref());
    std::process::ExitCode::from(code as u8)
}
