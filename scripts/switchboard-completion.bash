# bash completion for switchboard (the Debian package installs it as
# /usr/share/bash-completion/completions/switchboard). Commands and options
# as in docs/command-line.md. Plain compgen, so it works without the
# bash-completion package's helpers too.

_switchboard() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  # The command: the first word after `switchboard` that is not an option.
  local command="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) command=${COMP_WORDS[i]}; break ;;
    esac
  done

  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "run check mx-test version" -- "$cur")
    fi
    return 0
  fi

  case $command in
    run | check)
      case $prev in
        -c | --config)
          # A configuration file: YAML files and directories.
          compopt -o filenames 2>/dev/null
          local file
          while IFS= read -r file; do
            [[ -d $file || $file == *.yaml || $file == *.yml ]] && COMPREPLY+=("$file")
          done < <(compgen -f -- "$cur")
          return 0
          ;;
      esac
      mapfile -t COMPREPLY < <(compgen -W "-c --config --help" -- "$cur")
      ;;
    mx-test)
      case $prev in
        --dns | --queries | --port | --timeout)
          return 0  # a value: HOST:PORT, N, PORT, DURATION
          ;;
      esac
      if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "--dns --queries --port --timeout --json --help" -- "$cur")
      fi
      ;;
    version | help)
      mapfile -t COMPREPLY < <(compgen -W "--help" -- "$cur")
      ;;
  esac
  return 0
} &&
  complete -F _switchboard switchboard
