# syntax=docker/dockerfile:1
# kubeops' image, for those who have a container engine:
#   docker build -t kubeops:0.1.0 .
# `make image` builds the same image without one (mmdebstrap + umoci, in
# src/kubeops/testenv/image.py, which the in-cluster tests run): Debian bookworm with
# python3 and ca-certificates; kubeops' wheel and its dependencies in a venv at
# /opt/kubeops made by Debian's python3, installed by a pip outside that venv, their
# libraries stripped; /usr/local/bin/kubeops; user kubeops (65532:65532); and no pip,
# compiler, apt, dpkg (nor its database), debconf or perl inside.
# Differences: `make image` pins the dependencies to the versions installed where it
# runs (those the tests ran), clamps every timestamp to SOURCE_DATE_EPOCH, and makes
# three layers (Debian, dependencies, kubeops) where this makes its own.

FROM debian:bookworm-slim AS venv
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates binutils \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /build \
 && python3 -m venv --without-pip /opt/kubeops
COPY . /src
# The build venv's pip installs into /opt/kubeops (--python), so no pip lands there;
# SOURCE_DATE_EPOCH makes its .pyc files hash-checked, as make image's are.
RUN /build/bin/pip wheel --no-cache-dir --wheel-dir /wheels /src \
 && SOURCE_DATE_EPOCH=0 /build/bin/pip --python /opt/kubeops/bin/python install \
      --no-index --no-deps --no-cache-dir --root-user-action=ignore /wheels/*.whl \
 && find /opt/kubeops -name '*.so*' -type f -exec strip --strip-unneeded {} +

FROM debian:bookworm-slim
ARG VERSION=0.1.0
# Debian's python3, then the package manager, its database, logs and caches go:
# nothing in the image installs anything.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 ca-certificates libstdc++6 \
 && dpkg-query -W -f '${Package} ${Version}\n' > /usr/share/doc/kubeops-debian-packages.txt \
 && rm -rf /var/lib/dpkg /var/lib/apt /var/cache/apt /var/cache/debconf /var/cache/ldconfig \
      /var/log/* /etc/apt /etc/dpkg /usr/bin/dpkg* /usr/sbin/dpkg* /usr/share/dpkg /usr/lib/dpkg \
      /usr/bin/apt* /usr/lib/apt /usr/lib/x86_64-linux-gnu/libapt* /usr/share/debconf \
      /usr/share/perl5/Debconf /usr/bin/debconf* /usr/bin/perl* /usr/lib/x86_64-linux-gnu/perl-base \
 && echo 'kubeops:x:65532:65532:kubeops:/home/kubeops:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'kubeops:x:65532:' >> /etc/group \
 && install -d -o 65532 -g 65532 -m 0750 /home/kubeops
COPY --from=venv /opt/kubeops /opt/kubeops
RUN ln -s /opt/kubeops/bin/kubeops /usr/local/bin/kubeops

ENV PATH=/opt/kubeops/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.title=kubeops \
      org.opencontainers.image.version=$VERSION
USER 65532:65532
WORKDIR /home/kubeops
ENTRYPOINT ["/usr/local/bin/kubeops"]
