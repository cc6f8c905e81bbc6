/*
 * isobench guest init: PID 1 of an isobench VM (init=/.isobench/init).
 *
 * The host talks to it over the second serial port (/dev/ttyS1), which carries nothing
 * else: kernel messages stay on ttyS0. Both directions use frames:
 *
 *     type (1 byte) | length (4 bytes, big-endian) | payload
 *
 * guest -> host: MAGIC once, then R (ready: "1 <uptime>"), O (stdout), E (stderr),
 *                M (a message from this init), F ("code\tmessage": the command never ran),
 *                X (the exit code, decimal), and around each repetition B ("index uptime")
 *                and D ("index code uptime", after its output) when the spec asks for
 *                `repeat` runs of the command in this one boot; a `prep` command in the
 *                spec runs once before the first B (a scratch disk's mkfs)
 * host -> guest: S (the spec: key\0value\0 records), K (stats taken: power off now)
 *
 * Built statically by vm/guest.py, so it runs on any image, even one without a libc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHANNEL "/dev/ttyS1"
#define MAGIC "\036ISOBENCH1\036"
#define MAX_LIST 4096
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SPEC_TIMEOUT_MS 60000
#define ACK_TIMEOUT_MS 10000

static int chan = -1;

static void write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void frame(char type, const void *data, size_t n) {
    unsigned char hdr[5] = {(unsigned char)type, (unsigned char)(n >> 24),
                            (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    write_all(chan, hdr, sizeof hdr);
    write_all(chan, data, n);
}

static void msg(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    if (chan >= 0)
        frame('M', buf, (size_t)n);
    else
        write_all(2, buf, (size_t)n), write_all(2, "\n", 1);
}

static void power_off(void) {
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

/* Read exactly n bytes within timeout_ms; -1 on timeout, error or EOF. */
static int read_full(int fd, void *buf, size_t n, int timeout_ms) {
    char *p = buf;
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t got = read(fd, p, n);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* One frame from the host; the payload is NUL-terminated, NULL on timeout. */
static char *read_frame(char *type, uint32_t *len, int timeout_ms) {
    unsigned char hdr[5];
    if (read_full(chan, hdr, sizeof hdr, timeout_ms) < 0)
        return NULL;
    *type = (char)hdr[0];
    *len = ((uint32_t)hdr[1] << 24) | ((uint32_t)hdr[2] << 16) | ((uint32_t)hdr[3] << 8) | hdr[4];
    if (*len > (1u << 24))
        return NULL;
    char *buf = calloc(1, *len + 1);
    if (!buf || read_full(chan, buf, *len, timeout_ms) < 0)
        return NULL;
    return buf;
}

static void fail(int code, const char *fmt, ...) {
    char buf[1024];
    int off = snprintf(buf, sizeof buf, "%d\t", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + off, sizeof buf - (size_t)off, fmt, ap);
    va_end(ap);
    frame('F', buf, strlen(buf));
    tcdrain(chan);
    char type;
    uint32_t len;
    free(read_frame(&type, &len, ACK_TIMEOUT_MS));
    power_off();
}

/* --- the spec --- */
struct spec {
    char *argv[MAX_LIST];
    char *env[MAX_LIST];
    char *prep[MAX_LIST];  /* run once before the first mark (a scratch disk's mkfs) */
    gid_t groups[256];
    int argc, envc, ngroups, repeat, prepc;
    uid_t uid;
    gid_t gid;
    const char *workdir, *hostname, *address;
};

static void parse_spec(char *buf, uint32_t len, struct spec *s) {
    memset(s, 0, sizeof *s);
    s->workdir = "/";
    s->repeat = 1;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *key = p;
        p += strlen(p) + 1;
        if (p >= end)
            break;
        char *value = p;
        p += strlen(p) + 1;
        if (!strcmp(key, "arg") && s->argc < MAX_LIST - 1)
            s->argv[s->argc++] = value;
        else if (!strcmp(key, "env") && s->envc < MAX_LIST - 1)
            s->env[s->envc++] = value;
        else if (!strcmp(key, "prep") && s->prepc < MAX_LIST - 1)
            s->prep[s->prepc++] = value;
        else if (!strcmp(key, "group") && s->ngroups < 256)
            s->groups[s->ngroups++] = (gid_t)strtoul(value, NULL, 10);
        else if (!strcmp(key, "uid"))
            s->uid = (uid_t)strtoul(value, NULL, 10);
        else if (!strcmp(key, "gid"))
            s->gid = (gid_t)strtoul(value, NULL, 10);
        else if (!strcmp(key, "workdir"))
            s->workdir = value;
        else if (!strcmp(key, "hostname"))
            s->hostname = value;
        else if (!strcmp(key, "address"))
            s->address = value;
        else if (!strcmp(key, "repeat"))
            s->repeat = atoi(value) > 0 ? atoi(value) : 1;
    }
}

/* --- the guest's own filesystems --- */
static int is_mountpoint(const char *path) {
    struct stat st, root;
    return stat(path, &st) == 0 && stat("/", &root) == 0 && st.st_dev != root.st_dev;
}

static void mount_if_absent(const char *src, const char *target, const char *type,
                            unsigned long flags, const char *data) {
    mkdir(target, 0755);
    if (!is_mountpoint(target) && mount(src, target, type, flags, data) != 0)
        msg("mount %s on %s: %s", type, target, strerror(errno));
}

static void setup_mounts(void) {
    mount_if_absent("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_if_absent("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_if_absent("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    mount_if_absent("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666");
    mount_if_absent("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

/* --- network: loopback always; the first NIC gets the spec's address --- */
static void if_up(int sock, const char *name) {
    struct ifreq ifr = {0};
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0)
            msg("ifup %s: %s", name, strerror(errno));
    }
}

static int first_nic(char *name, size_t size) {
    for (int tries = 0; tries < 200; tries++) {  /* the NIC can lag behind the disk */
        DIR *d = opendir("/sys/class/net");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] != '.' && strcmp(e->d_name, "lo")) {
                snprintf(name, size, "%.*s", (int)size - 1, e->d_name);
                closedir(d);
                return 0;
            }
        }
        if (d)
            closedir(d);
        usleep(10000);
    }
    return -1;
}

static void setup_network(const char *address) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return;
    if_up(sock, "lo");
    char nic[IFNAMSIZ];
    if (address && *address) {
        char ip[64];
        snprintf(ip, sizeof ip, "%s", address);
        char *slash = strchr(ip, '/');
        int prefix = slash ? atoi(slash + 1) : 24;
        if (slash)
            *slash = 0;
        if (first_nic(nic, sizeof nic) != 0) {
            msg("network: no network interface appeared");
        } else {
            struct ifreq ifr = {0};
            strncpy(ifr.ifr_name, nic, IFNAMSIZ - 1);
            struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
            sin->sin_family = AF_INET;
            inet_pton(AF_INET, ip, &sin->sin_addr);
            if (ioctl(sock, SIOCSIFADDR, &ifr) != 0)
                msg("network: address %s on %s: %s", ip, nic, strerror(errno));
            sin->sin_addr.s_addr = htonl(prefix ? ~0u << (32 - prefix) : 0);
            if (ioctl(sock, SIOCSIFNETMASK, &ifr) != 0)
                msg("network: netmask on %s: %s", nic, strerror(errno));
            if_up(sock, nic);
        }
    }
    close(sock);
}

/* --- the command --- */
static void mkdirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

static const char *env_get(char **env, const char *key) {
    size_t k = strlen(key);
    for (; *env; env++)
        if (!strncmp(*env, key, k) && (*env)[k] == '=')
            return *env + k + 1;
    return NULL;
}

/* Child side: report "code\tmessage" on err_fd and exit (Docker's codes, runtime's words). */
static void child_fail(int err_fd, int code, const char *fmt, ...) {
    char buf[1024];
    int off = snprintf(buf, sizeof buf, "%d\t", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + off, sizeof buf - (size_t)off, fmt, ap);
    va_end(ap);
    write_all(err_fd, buf, strlen(buf));
    _exit(code);
}

static void exec_command(struct spec *s, int err_fd) {
    const char *cmd = s->argv[0];
    int denied = 0;
    if (strchr(cmd, '/')) {
        execve(cmd, s->argv, s->env);
        if (errno == EACCES || errno == EISDIR)
            denied = 1;
        else if (errno != ENOENT && errno != ENOTDIR)
            child_fail(err_fd, 126, "exec: \"%s\": %s", cmd, strerror(errno));
        if (!denied)
            child_fail(err_fd, 127, "exec: \"%s\": stat %s: no such file or directory", cmd, cmd);
    } else {
        const char *path = env_get(s->env, "PATH");
        char dirs[4096], full[4096];
        snprintf(dirs, sizeof dirs, "%s", path ? path : DEFAULT_PATH);
        char *save = NULL;
        for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            snprintf(full, sizeof full, "%s/%s", *dir ? dir : ".", cmd);
            execve(full, s->argv, s->env);
            if (errno == EACCES || errno == EISDIR)
                denied = 1;
            else if (errno != ENOENT && errno != ENOTDIR)
                child_fail(err_fd, 126, "exec: \"%s\": %s", cmd, strerror(errno));
        }
    }
    if (denied)
        child_fail(err_fd, 126, "exec: \"%s\": permission denied", cmd);
    child_fail(err_fd, 127, "exec: \"%s\": executable file not found in $PATH", cmd);
}

static pid_t spawn(struct spec *s, int out_fd, int err_fd, int status_fd) {
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    setsid();
    int null = open("/dev/null", O_RDWR);
    dup2(null >= 0 ? null : out_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    mkdirs(s->workdir);  /* Docker creates a missing working directory */
    if (setgroups((size_t)s->ngroups, s->groups) != 0 || setgid(s->gid) != 0 ||
        setuid(s->uid) != 0)
        child_fail(status_fd, 125, "set user %u:%u: %s", s->uid, s->gid, strerror(errno));
    if (chdir(s->workdir) != 0)
        child_fail(status_fd, 125, "chdir to cwd ('%s'): %s", s->workdir, strerror(errno));
    exec_command(s, status_fd);
    return -1;
}

/* Forward what a pipe has now; returns 0 at EOF. */
static int pump(int fd, char type) {
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n > 0)
        frame(type, buf, (size_t)n);
    return n > 0;
}

static int run(struct spec *s) {
    int out[2], err[2], status[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(status, O_CLOEXEC))
        fail(125, "pipe: %s", strerror(errno));
    pid_t pid = spawn(s, out[1], err[1], status[1]);
    close(out[1]);
    close(err[1]);
    close(status[1]);
    if (pid < 0)
        fail(125, "fork: %s", strerror(errno));
    char report[1024] = {0};
    ssize_t n;
    while ((n = read(status[0], report, sizeof report - 1)) < 0 && errno == EINTR) {
    }
    close(status[0]);
    if (n > 0) {  /* exec never happened: the status pipe closes on a successful exec */
        waitpid(pid, NULL, 0);
        frame('F', report, (size_t)n);
        return -1;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    int open_out = 1, open_err = 1, code = -1, killed = 0;
    while (open_out || open_err) {
        struct pollfd fds[2] = {{.fd = open_out ? out[0] : -1, .events = POLLIN},
                                {.fd = open_err ? err[0] : -1, .events = POLLIN}};
        poll(fds, 2, code < 0 ? 100 : 20);
        if (fds[0].revents)
            open_out = pump(out[0], 'O');
        if (fds[1].revents)
            open_err = pump(err[0], 'E');
        int st;
        pid_t done;
        while ((done = waitpid(-1, &st, WNOHANG)) > 0)  /* PID 1 reaps every orphan */
            if (done == pid)
                code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (code >= 0 && !killed && !fds[0].revents && !fds[1].revents) {
            /* The command ended and its output is drained: like a container, whatever it
             * left running dies with it (and stops holding the pipes open). */
            kill(-1, SIGKILL);
            killed = 1;
        }
    }
    while (code < 0) {
        int st;
        if (waitpid(pid, &st, 0) == pid)
            code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    close(out[0]);  /* the next repetition opens its own */
    close(err[0]);
    return code;
}

int main(void) {
    setup_mounts();
    chan = open(CHANNEL, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (chan < 0) {
        msg("isobench init: open %s: %s", CHANNEL, strerror(errno));
        power_off();
    }
    struct termios t;
    if (tcgetattr(chan, &t) == 0) {  /* raw: no \n -> \r\n, no echo, all 8 bits */
        cfmakeraw(&t);
        cfsetspeed(&t, B115200);
        t.c_cflag |= CLOCAL | CREAD;
        t.c_cflag &= ~CRTSCTS;
        tcsetattr(chan, TCSANOW, &t);
    }
    tcflush(chan, TCIOFLUSH);
    write_all(chan, MAGIC, sizeof MAGIC - 1);
    char ready[64];
    struct timespec up;
    clock_gettime(CLOCK_BOOTTIME, &up);
    int n = snprintf(ready, sizeof ready, "1 %ld.%09ld", (long)up.tv_sec, up.tv_nsec);
    frame('R', ready, (size_t)n);

    char type;
    uint32_t len;
    char *buf = read_frame(&type, &len, SPEC_TIMEOUT_MS);
    if (!buf || type != 'S')
        fail(125, "isobench init: no spec from the host");
    static struct spec s;
    parse_spec(buf, len, &s);
    if (s.argc == 0)
        fail(125, "isobench init: the spec has no command");
    if (s.hostname && sethostname(s.hostname, strlen(s.hostname)) != 0)
        msg("sethostname: %s", strerror(errno));
    setup_network(s.address);

    int code = 0;
    if (s.prepc > 0) {
        /* The preparation runs once, before the first mark: outside every repetition's
         * window (its output reaches the host, outside every repetition's). */
        static struct spec p;
        p = s;
        memcpy(p.argv, s.prep, sizeof p.argv);
        p.argc = s.prepc;
        code = run(&p);
        if (code > 0)
            fail(125, "isobench init: the preparation before the first repetition exited %d",
                 code);
    }
    for (int i = 0; code >= 0 && i < s.repeat; i++) {
        /* Each repetition between two marks: the host reads QEMU's cgroup as each arrives,
         * so every repetition is accounted on its own window. */
        char mark[96];
        struct timespec now;
        clock_gettime(CLOCK_BOOTTIME, &now);
        frame('B', mark, (size_t)snprintf(mark, sizeof mark, "%d %ld.%09ld", i,
                                           (long)now.tv_sec, now.tv_nsec));
        code = run(&s);
        if (code < 0)
            break;  /* the command never started (F sent): no more repetitions */
        clock_gettime(CLOCK_BOOTTIME, &now);
        frame('D', mark, (size_t)snprintf(mark, sizeof mark, "%d %d %ld.%09ld", i, code,
                                           (long)now.tv_sec, now.tv_nsec));
    }
    if (code >= 0) {
        char text[16];
        frame('X', text, (size_t)snprintf(text, sizeof text, "%d", code));
    }
    tcdrain(chan);
    free(read_frame(&type, &len, ACK_TIMEOUT_MS));  /* the host samples stats, then says K */
    power_off();
    return 0;
}
