# The callcenter daemon (AMI client, FastAGI server, web). Asterisk runs beside it (its own host or
# container, configured from asterisk_conf/ with `callcenter sandbox render` or your own tooling).
# Mirrors scripts/bootstrap: Debian 12, its Python 3.11, a virtualenv with the pinned packages, the
# Mandarin placeholder prompts made by scripts/make-prompts.
#
# The daemon reads and writes some of Asterisk's files: mount them at the paths the config names
# (ivr.asterisk_sounds_dir for prompts, ivr.voicemail_dir, asterisk.queue_log, the recordings
# directory), and set web.host / agi.host to 0.0.0.0 in the mounted callcenter.yaml *inside* the
# container only, then publish the ports on the address Asterisk (and the web's proxy) reach, never on
# every interface of the host. FastAGI runs IVR flows and creates voicemail rows for whoever connects:
# set agi.allowed_peers to Asterisk's address (the container sees Docker's bridge gateway, e.g.
# 172.17.0.1, when Asterisk runs on the host) and agi.secret (or CALLCENTER_AGI_SECRET), which the
# rendered dialplan passes as ?secret= in the AGI URL.
#
#   docker build -t callcenter .
#   docker run -v /etc/callcenter:/etc/callcenter -p 127.0.0.1:8080:8080 -p 127.0.0.1:4573:4573 \
#     -e CALLCENTER_AGI_SECRET=... callcenter
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CALLCENTER_CONFIG=/etc/callcenter/callcenter.yaml \
    CALLCENTER_DATA_DIR=/var/lib/callcenter

# graphviz: `callcenter ivr show`; espeak-ng + sox: Mandarin placeholder prompts (scripts/make-prompts);
# kannel: the SMS gateway (bearerbox, smsbox; kannel-extras: its fake SMSC), as scripts/install-kannel
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates graphviz espeak-ng sox \
    kannel kannel-extras \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/callcenter
COPY setup.cfg pyproject.toml README.md ./
COPY callcenter ./callcenter
COPY migrations ./migrations
COPY asterisk_conf ./asterisk_conf
COPY ivr_flows ./ivr_flows
COPY scripts ./scripts
COPY prompts ./prompts
# Editable install: migrations/ and asterisk_conf/ are found next to the package, as in a checkout.
RUN python3 -m venv /opt/callcenter/.venv \
 && /opt/callcenter/.venv/bin/pip install --no-cache-dir -e . \
 && scripts/make-prompts \
 && useradd --system --home /var/lib/callcenter --create-home callcenter \
 && mkdir -p /etc/callcenter && chown callcenter /var/lib/callcenter

USER callcenter
ENV PATH=/opt/callcenter/.venv/bin:$PATH
EXPOSE 8080 4573
# Upgrade the schema first (idempotent), then run until SIGTERM.
CMD ["sh", "-c", "callcenter db upgrade && exec callcenter run"]
