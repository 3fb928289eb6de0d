# Writes OUT (a header defining SB_GIT_COMMIT) from `git describe` of SOURCE_DIR, at
# every build, but touches the file only when the commit changed: a new commit
# recompiles one source file, an unchanged tree none. Outside a git checkout
# (a source tarball) the commit is "unknown". SWITCHBOARD_GIT_COMMIT in the
# environment names it instead (scripts/package builds from a copy).
if(DEFINED ENV{SWITCHBOARD_GIT_COMMIT})
  set(commit "$ENV{SWITCHBOARD_GIT_COMMIT}")
  set(failed 0)
else()
  execute_process(
    COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
    OUTPUT_VARIABLE commit
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET
    RESULT_VARIABLE failed)
endif()
if(failed OR commit STREQUAL "")
  set(commit "unknown")
endif()
file(WRITE "${OUT}.tmp" "#pragma once\n#define SB_GIT_COMMIT \"${commit}\"\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
