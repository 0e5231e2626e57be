# syntax=docker/dockerfile:1
# kubeops' image, for those who have a container engine:
#   docker build -t kubeops:0.1.0 .
# `make image` builds the same image without one (mmdebstrap + umoci, in
# src/kubeops/testenv/image.py, which the in-cluster tests run): Debian bookworm
# with python3 and ca-certificates, kubeops' wheel and its dependencies in a venv
# at /opt/kubeops made by the image's own python3, /usr/local/bin/kubeops, user
# kubeops (65532:65532), and no pip, compiler, apt or dpkg (nor its database) inside.
# Differences: `make image` pins the dependencies to the versions installed where it
# runs (those the tests ran) and clamps every timestamp to SOURCE_DATE_EPOCH.

FROM debian:bookworm-slim AS wheels
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /build
COPY . /src
# kubeops' wheel and every dependency's, plus pip itself as a wheel: the final stage
# runs that pip from outside its venv, so no pip is left inside.
RUN /build/bin/pip wheel --no-cache-dir --wheel-dir /wheels /src \
 && /build/bin/pip download --no-cache-dir --no-deps --dest /pip pip

FROM debian:bookworm-slim
ARG VERSION=0.1.0
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 ca-certificates \
 && python3 -m venv --without-pip /opt/kubeops
# Then the package manager, its database, logs and caches go: nothing here installs anything.
RUN --mount=type=bind,from=wheels,source=/wheels,target=/tmp/wheels \
    --mount=type=bind,from=wheels,source=/pip,target=/tmp/pip \
    SOURCE_DATE_EPOCH=0 /opt/kubeops/bin/python /tmp/pip/pip-*.whl/pip install \
      --no-index --no-deps --no-cache-dir --root-user-action=ignore /tmp/wheels/*.whl \
 && ln -s /opt/kubeops/bin/kubeops /usr/local/bin/kubeops \
 && rm -rf /var/lib/dpkg /var/lib/apt /var/cache/apt /var/cache/debconf /var/cache/ldconfig \
      /var/log/* /etc/apt /etc/dpkg /usr/bin/dpkg* /usr/sbin/dpkg* /usr/share/dpkg /usr/lib/dpkg \
      /usr/bin/apt* /usr/lib/apt /usr/lib/x86_64-linux-gnu/libapt* /usr/share/debconf \
      /usr/share/perl5/Debconf /usr/bin/debconf* /usr/bin/perl* /usr/lib/x86_64-linux-gnu/perl-base \
 && echo 'kubeops:x:65532:65532:kubeops:/home/kubeops:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'kubeops:x:65532:' >> /etc/group \
 && install -d -o 65532 -g 65532 -m 0750 /home/kubeops

ENV PATH=/opt/kubeops/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.title=kubeops \
      org.opencontainers.image.version=$VERSION
USER 65532:65532
WORKDIR /home/kubeops
ENTRYPOINT ["/usr/local/bin/kubeops"]
