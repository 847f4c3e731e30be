/* cmsg_bsd.c - BSD control-message values and their Linux equivalents.
 *
 * Numbers from each system's own headers:
 *  - SOL_SOCKET 0xffff; SCM_RIGHTS 0x01: FreeBSD, NetBSD, OpenBSD and XNU
 *    sys/socket.h.
 *  - SCM_CREDS: FreeBSD 0x03 (struct cmsgcred), macOS 0x03 (XNU
 *    bsd/sys/socket.h), NetBSD 0x10 (struct sockcred; 0x04 was the old
 *    sockcred70). OpenBSD has no SCM_CREDS.
 *  - IP_SENDSRCADDR = IP_RECVDSTADDR = 7 (struct in_addr): FreeBSD, NetBSD
 *    ("FreeBSD compatibility") and OpenBSD netinet/in.h. XNU has none.
 *  - IP_PKTINFO: NetBSD 25, struct in_pktinfo {in_addr ipi_addr; unsigned
 *    ipi_ifindex}; XNU 26, struct in_pktinfo laid out as Linux's.
 *  - IPV6_PKTINFO 46, IPV6_HOPLIMIT 47, IPV6_TCLASS 61: KAME netinet6/in6.h
 *    (FreeBSD, NetBSD, OpenBSD). XNU: IPV6_PKTINFO is 46 with
 *    __APPLE_USE_RFC_3542, else IPV6_2292PKTINFO 19. struct in6_pktinfo is
 *    the same everywhere.
 *  - IPPROTO_IP 0 and IPPROTO_IPV6 41 are IANA numbers, as on Linux.
 * Linux numbers come from glibc's headers.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "norm_internal.h"
#include "sendshim.h"

#define FB  (1u << SS_STYLE_FREEBSD)
#define NB  (1u << SS_STYLE_NETBSD)
#define OB  (1u << SS_STYLE_OPENBSD)
#define MAC (1u << SS_STYLE_MACOS)
#define ALL ((1u << SS_NSTYLES) - 1u)

#define BSD_SCM_RIGHTS         0x01
#define FREEBSD_SCM_CREDS      0x03
#define MACOS_SCM_CREDS        0x03
#define NETBSD_SCM_CREDS       0x10
#define BSD_IP_SENDSRCADDR     7
#define NETBSD_IP_PKTINFO      25
#define MACOS_IP_PKTINFO       26
#define BSD_IPV6_PKTINFO       46
#define BSD_IPV6_HOPLIMIT      47
#define BSD_IPV6_TCLASS        61
#define MACOS_IPV6_2292PKTINFO 19

static const struct ss_cmsg_xl bsd_table[] = {
    {FB | NB | OB | MAC, SS_BSD_SOL_SOCKET, BSD_SCM_RIGHTS, SOL_SOCKET, SCM_RIGHTS, SS_XL_COPY, "SCM_RIGHTS"},
    {FB, SS_BSD_SOL_SOCKET, FREEBSD_SCM_CREDS, SOL_SOCKET, SCM_CREDENTIALS, SS_XL_CREDS, "SCM_CREDS"},
    {MAC, SS_BSD_SOL_SOCKET, MACOS_SCM_CREDS, SOL_SOCKET, SCM_CREDENTIALS, SS_XL_CREDS, "SCM_CREDS"},
    {NB, SS_BSD_SOL_SOCKET, NETBSD_SCM_CREDS, SOL_SOCKET, SCM_CREDENTIALS, SS_XL_CREDS, "SCM_CREDS"},
    {FB | NB | OB, IPPROTO_IP, BSD_IP_SENDSRCADDR, IPPROTO_IP, IP_PKTINFO, SS_XL_SRCADDR, "IP_SENDSRCADDR"},
    {NB, IPPROTO_IP, NETBSD_IP_PKTINFO, IPPROTO_IP, IP_PKTINFO, SS_XL_PKTINFO_NBSD, "IP_PKTINFO"},
    {MAC, IPPROTO_IP, MACOS_IP_PKTINFO, IPPROTO_IP, IP_PKTINFO, SS_XL_COPY, "IP_PKTINFO"},
    {FB | NB | OB | MAC, IPPROTO_IPV6, BSD_IPV6_PKTINFO, IPPROTO_IPV6, IPV6_PKTINFO, SS_XL_COPY,
     "IPV6_PKTINFO"},
    {MAC, IPPROTO_IPV6, MACOS_IPV6_2292PKTINFO, IPPROTO_IPV6, IPV6_PKTINFO, SS_XL_COPY, "IPV6_2292PKTINFO"},
    {FB | NB | OB, IPPROTO_IPV6, BSD_IPV6_HOPLIMIT, IPPROTO_IPV6, IPV6_HOPLIMIT, SS_XL_COPY, "IPV6_HOPLIMIT"},
    {FB | NB | OB, IPPROTO_IPV6, BSD_IPV6_TCLASS, IPPROTO_IPV6, IPV6_TCLASS, SS_XL_COPY, "IPV6_TCLASS"},
};

/* sendshim.h's private values, at Linux levels, in every style. */
static const struct ss_cmsg_xl private_table[] = {
    {ALL, SOL_SOCKET, SCM_CREDS, SOL_SOCKET, SCM_CREDENTIALS, SS_XL_CREDS, "SCM_CREDS"},
    {ALL, IPPROTO_IP, IP_SENDSRCADDR, IPPROTO_IP, IP_PKTINFO, SS_XL_SRCADDR, "IP_SENDSRCADDR"},
};

static const struct ss_cmsg_xl *find(const struct ss_cmsg_xl *t, size_t n, enum ss_style style, int level,
                                     int type)
{
    if ((unsigned)style >= SS_NSTYLES)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (t[i].level == level && t[i].type == type && (t[i].styles & (1u << style)))
            return &t[i];
    return NULL;
}

const struct ss_cmsg_xl *ss_cmsg_bsd_find(enum ss_style style, int level, int type)
{
    return find(bsd_table, sizeof bsd_table / sizeof bsd_table[0], style, level, type);
}

const struct ss_cmsg_xl *ss_cmsg_private_find(int level, int type)
{
    return find(private_table, sizeof private_table / sizeof private_table[0], SS_STYLE_LINUX, level, type);
}

/* At these levels the BSD and Linux type numbers differ, so an unknown BSD
 * type must not reach Linux with its number unchanged (BSD IPPROTO_IP 1 is
 * Linux IP_TOS, BSD IPV6_DSTOPTS 50 is Linux IPV6_PKTINFO). */
int ss_cmsg_bsd_strict_level(int level)
{
    return level == SS_BSD_SOL_SOCKET || level == IPPROTO_IP || level == IPPROTO_IPV6;
}

void ss_cmsg_bsd_layout(enum ss_style style, struct ss_cmsg_layout *l)
{
    /* XNU: CMSG_DATA/CMSG_SPACE use __DARWIN_ALIGN32 (4). The other BSDs use
     * _ALIGN/__CMSG_ALIGN, sizeof(long) on LP64: data at 16, align 8. */
    if (style == SS_STYLE_MACOS) {
        l->data_off = 12;
        l->align = 4;
    } else {
        l->data_off = 16;
        l->align = 8;
    }
}

size_t ss_cmsg_xl_out_len(const struct ss_cmsg_xl *xl, size_t n, size_t *min)
{
    *min = 0;
    switch (xl->kind) {
    case SS_XL_CREDS:
        return sizeof(struct ucred);
    case SS_XL_SRCADDR:
        *min = sizeof(struct in_addr);
        return n < *min ? 0 : sizeof(struct in_pktinfo);
    case SS_XL_PKTINFO_NBSD:
        *min = sizeof(struct in_addr) + sizeof(unsigned);
        return n < *min ? 0 : sizeof(struct in_pktinfo);
    case SS_XL_COPY:
    default:
        return n;
    }
}

void ss_cmsg_xl_write(const struct ss_cmsg_xl *xl, const unsigned char *in, size_t n,
                      const struct ss_creds *cr, unsigned char *out)
{
    struct ucred uc;
    struct in_pktinfo pi;
    unsigned ifindex;

    switch (xl->kind) {
    case SS_XL_CREDS:
        uc.pid = cr->pid;
        uc.uid = cr->uid;
        uc.gid = cr->gid;
        memcpy(out, &uc, sizeof uc);
        break;
    case SS_XL_SRCADDR:
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi_spec_dst, in, sizeof pi.ipi_spec_dst);
        memcpy(out, &pi, sizeof pi);
        break;
    case SS_XL_PKTINFO_NBSD:
        memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi_spec_dst, in, sizeof pi.ipi_spec_dst);
        memcpy(&ifindex, in + sizeof(struct in_addr), sizeof ifindex);
        pi.ipi_ifindex = (int)ifindex;
        memcpy(out, &pi, sizeof pi);
        break;
    case SS_XL_COPY:
    default:
        memcpy(out, in, n);
        break;
    }
}
