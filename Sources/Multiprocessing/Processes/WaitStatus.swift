import CSystemShims

/// Python's exit code for a `waitpid` status: the exit status, or the negative signal number.
func exitCode(waitStatus status: Int32) -> Int32 {
  if cs_wifsignaled(status) != 0 { return -cs_wtermsig(status) }
  return cs_wexitstatus(status)
}
