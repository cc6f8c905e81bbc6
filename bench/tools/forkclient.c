/* The fork-server prototype's client in C (bench/tools/forkclient.py's twin, same wire
 * format): what a client costs without an interpreter's start. Measurement only.
 *   cc -O2 -o forkclient forkclient.c && ./forkclient SOCKET ARG...
 * Request: u32 length (little-endian), then NUL-separated fields: argc, envc, cwd, argv...,
 * env...; stdin/stdout/stderr travel as SCM_RIGHTS. Reply: the exit code, i32 LE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static char *buf;
static size_t len, cap;

static void put(const char *s, int sep) {
    size_t n = strlen(s) + (sep ? 1 : 0);
    if (len + n > cap) {
        cap = (len + n) * 2;
        if (!(buf = realloc(buf, cap))) exit(125);
    }
    memcpy(buf + len, s, n - (sep ? 1 : 0));
    if (sep) buf[len + n - 1] = '\0';
    len += n;
}

int main(int argc, char **argv) {
    if (argc < 2) { fputs("usage: forkclient SOCKET ARG...\n", stderr); return 2; }
    int envc = 0;
    while (environ[envc]) envc++;
    char num[32], cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return 125;
    len = 4; cap = 4096; buf = malloc(cap);
    snprintf(num, sizeof num, "%d", argc - 2); put(num, 1);
    snprintf(num, sizeof num, "%d", envc); put(num, 1);
    put(cwd, argc - 2 + envc > 0);
    for (int i = 2; i < argc; i++) put(argv[i], i + 1 < argc || envc > 0);
    for (int i = 0; i < envc; i++) put(environ[i], i + 1 < envc);
    uint32_t body = (uint32_t)(len - 4);
    for (int i = 0; i < 4; i++) buf[i] = (char)(body >> (8 * i));

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 125; }
    int fds[3] = {0, 1, 2};
    char ctl[CMSG_SPACE(sizeof fds)];
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                         .msg_controllen = sizeof ctl};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    if (sendmsg(fd, &msg, 0) != (ssize_t)len) { perror("sendmsg"); return 125; }
    unsigned char reply[4]; size_t got = 0;
    while (got < 4) {
        ssize_t n = read(fd, reply + got, 4 - got);
        if (n <= 0) { fputs("forkclient: no exit code from the server\n", stderr); return 125; }
        got += (size_t)n;
    }
    return (int32_t)(reply[0] | reply[1] << 8 | reply[2] << 16 | (uint32_t)reply[3] << 24);
}
