# bash completion for scandb(1)                            -*- shell-script -*-
# Installed as share/bash-completion/completions/scandb; or: source this file.
# Needs only bash itself (not the bash-completion package).
# tests/e2e/test_docs.py checks that each command's options here are exactly
# those its --help lists.

_scandb_commands="import scan hosts host services export jobs job tag tags note findings finding diff changes history migrate health stats doctor backup restore prune serve token"
# global options: before the command all of them, after it these
_scandb_global_before="--db -q --quiet --no-progress --version --help"
_scandb_global_after="--db -q --quiet --no-progress --help"

_scandb_options()
{
	case $1 in
	import) echo "--force --partial --ports --gone-after --format" ;;
	scan) echo "--keep-xml --gone-after" ;;
	hosts) echo "--port --service --status --net --job --changed-since --new-since --all-states --sort --limit --format" ;;
	host) echo "--job --format" ;;
	services) echo "--port --service --status --net --changed-since --new-since --sort --limit --top -n --format" ;;
	export) echo "--current --format -o --output --port --service --status --net --changed-since --new-since" ;;
	jobs) echo "--status --sort --limit --format" ;;
	job) echo "--dry-run --format" ;;
	tag) echo "--format" ;;
	tags) echo "--format" ;;
	note) echo "--format" ;;
	changes) echo "--since --host --net --kind --sort --limit --format" ;;
	history) echo "--since --sort --limit --format" ;;
	diff) echo "--format --text --xml --json -v --verbose" ;;
	findings) echo "--status --severity --host --sort --limit --format" ;;
	finding) echo "--format --note" ;;
	migrate) echo "--format --force" ;;
	health) echo "--format" ;;
	stats) echo "--exact --format" ;;
	doctor) echo "--quick --fix --format" ;;
	backup) echo "--keep --format" ;;
	restore) echo "--force --format" ;;
	prune) echo "--older-than --keep-last --dry-run --force --format" ;;
	serve) echo "--listen --no-auth --pool-size --max-connections --timeout --max-body --max-header --max-upload" ;;
	token) echo "--scope --expires --format" ;;
	esac
}

_scandb_formats()
{
	case $1 in
	import | health | backup | restore | migrate | tag) echo "table json" ;;
	token) echo "table json ndjson" ;;
	diff) echo "text xml json" ;;
	export) echo "nmap-xml csv json html" ;;
	*) echo "table json ndjson csv" ;;
	esac
}

_scandb_files()
{
	local IFS=$'\n'
	COMPREPLY=($(compgen -f -- "$1"))
	compopt -o filenames 2>/dev/null
}

_scandb()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# the command: the first word that is neither an option nor --db's value
	local i w cmd= cmdi=0
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--db) ((i++)) ;;
		-*) ;;
		*)
			cmd=$w
			cmdi=$i
			break
			;;
		esac
	done

	# values of options
	case $prev in
	--db)
		_scandb_files "$cur"
		return 0
		;;
	-o | --output | --keep-xml)
		_scandb_files "$cur"
		return 0
		;;
	--format)
		COMPREPLY=($(compgen -W "$(_scandb_formats "$cmd")" -- "$cur"))
		return 0
		;;
	--status)
		case $cmd in
		hosts | services | export) w="up down gone unknown skipped" ;;
		jobs) w="queued running completed failed cancelled" ;;
		*) w="open pending_validation confirmed false_positive manual_review skipped error resolved" ;;
		esac
		COMPREPLY=($(compgen -W "$w" -- "$cur"))
		return 0
		;;
	--severity)
		COMPREPLY=($(compgen -W "info low medium high critical" -- "$cur"))
		return 0
		;;
	--sort)
		case $cmd in
		hosts) w="addr status hostname os ports first_seen last_seen" ;;
		services) w="addr port protocol service product version first_seen last_seen" ;;
		jobs) w="created_at id kind status started_at completed_at hosts_up ports_open elapsed" ;;
		changes | history) w="at addr kind port job_id" ;;
		findings) w="id severity status addr port type title first_seen last_seen" ;;
		*) w="" ;;
		esac
		# FIELD or -FIELD (descending)
		COMPREPLY=($(compgen -W "$w $(printf -- '-%s ' $w)" -- "$cur"))
		return 0
		;;
	--top)
		COMPREPLY=($(compgen -W "service product port os cpe" -- "$cur"))
		return 0
		;;
	--kind)
		# a comma-separated list: complete the last element
		local head= last=$cur
		if [[ $cur == *,* ]]; then
			head=${cur%,*},
			last=${cur##*,}
		fi
		COMPREPLY=($(compgen -P "$head" -W "host_up host_down port_opened port_closed service_changed os_changed mac_changed hostname_changed script_changed host_gone" -- "$last"))
		compopt -o nospace 2>/dev/null
		return 0
		;;
	--port | --service | --net | --job | --changed-since | --new-since | --since | --host | \
		--note | --keep | --keep-last | --older-than | --limit | -n)
		return 0 # a value of the user's
		;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$_scandb_global_before" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$_scandb_commands" -- "$cur"))
		fi
		return 0
	fi

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_scandb_options "$cmd") $_scandb_global_after" -- "$cur"))
		return 0
	fi

	# arguments of the command (COMP_CWORD - cmdi: which word after it)
	case $cmd in
	import | backup | restore | diff)
		_scandb_files "$cur"
		;;
	migrate)
		((COMP_CWORD == cmdi + 1)) &&
			COMPREPLY=($(compgen -W "status up down verify" -- "$cur"))
		;;
	finding)
		((COMP_CWORD == cmdi + 2)) &&
			COMPREPLY=($(compgen -W "set-status" -- "$cur"))
		[[ $prev == set-status ]] &&
			COMPREPLY=($(compgen -W "open pending_validation confirmed false_positive manual_review skipped error resolved" -- "$cur"))
		;;
	scan)
		COMPREPLY=($(compgen -A hostname -- "$cur"))
		;;
	hosts | services | export)
		# search terms (man scandb: SEARCH): their keys, and the values of a few
		case $cur in
		status:*) COMPREPLY=($(compgen -P status: -W "up down unknown skipped gone" -- "${cur#status:}")) ;;
		finding:*) COMPREPLY=($(compgen -P finding: -W "info low medium high critical info+ low+ medium+ high+" -- "${cur#finding:}")) ;;
		*:*) ;;
		*)
			COMPREPLY=($(compgen -W "port: service: product: version: cpe: script: hostname: os: mac-vendor: net: tag: status: first-seen: changed: finding: or not" -- "$cur"))
			compopt -o nospace 2>/dev/null
			;;
		esac
		;;
	job)
		((COMP_CWORD == cmdi + 1)) && COMPREPLY=($(compgen -W "rm" -- "$cur"))
		;;
	tag)
		((COMP_CWORD == cmdi + 2)) && COMPREPLY=($(compgen -W "add rm" -- "$cur"))
		;;
	note)
		((COMP_CWORD == cmdi + 1)) && COMPREPLY=($(compgen -W "rm" -- "$cur"))
		;;
	esac
	return 0
}

complete -F _scandb scandb
