#if canImport(Glibc)
  import Glibc
#endif

/// Unblocks every signal in the calling thread. A program inherits its launcher's blocked
/// signals: one started from a libdispatch worker thread (as Foundation's `Process` run from
/// async code does) has SIGINT and SIGTERM blocked, and so would its children, which then
/// cannot be stopped with SIGTERM.
package func unblockSignals() {
  var none = sigset_t()
  sigemptyset(&none)
  pthread_sigmask(SIG_SETMASK, &none, nil)
}
