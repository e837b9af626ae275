#!/usr/bin/env perl
# Prints the failed tests of a test run, and the errors outside any test, from its TRX files, so that the last lines of a
# long log name them:
#   perl scripts/test-summary.pl DIR
# Each failure gets its message's first lines and the first frames of its stack trace; a list of the failed tests' names
# comes last. Plain Perl (perl-base is part of every Debian), reading the TRX with regular expressions: a TRX result's
# attributes are in its start tag, and its message and stack trace are the only elements of those names under it.
use strict;
use warnings;
use File::Find;

my $dir = shift // die "usage: test-summary.pl DIR\n";
my (@trx, @failed, @errors);
find(sub { push @trx, $File::Find::name if /\.trx$/ }, $dir) if -d $dir;

sub decode {
    my ($text) = @_;
    $text =~ s/&#x([0-9A-Fa-f]+);/chr(hex($1))/ge;
    $text =~ s/&#(\d+);/chr($1)/ge;
    $text =~ s/&lt;/</g; $text =~ s/&gt;/>/g; $text =~ s/&quot;/"/g; $text =~ s/&apos;/'/g; $text =~ s/&amp;/&/g;
    $text =~ s/\r//g;
    return $text;
}

sub first_lines {
    my ($text, $count) = @_;
    my @lines = grep { /\S/ } split /\n/, $text;
    my @kept = @lines[0 .. ($#lines < $count - 1 ? $#lines : $count - 1)];
    push @kept, "... (" . (@lines - $count) . " more lines)" if @lines > $count;
    return map { "      $_" } @kept;
}

for my $file (sort @trx) {
    open my $fh, '<', $file or die "test-summary.pl: $file: $!\n";
    my $xml = do { local $/; <$fh> };
    close $fh;
    # A passed test's result is an empty element; a failed one holds its output.
    while ($xml =~ m{<UnitTestResult\b([^>]*?)(?:/>|>(.*?)</UnitTestResult>)}gs) {
        my ($attributes, $body) = ($1, $2 // '');
        next unless $attributes =~ /\boutcome="Failed"/;
        my ($name) = $attributes =~ /\btestName="([^"]*)"/;
        my ($message) = $body =~ m{<Message>(.*?)</Message>}s;
        my ($stack) = $body =~ m{<StackTrace>(.*?)</StackTrace>}s;
        push @failed, { name => decode($name // '?'), message => decode($message // ''), stack => decode($stack // '') };
    }
    # What failed outside any test: a fixture's clean-up, a test host that crashed. The log above has the whole of it.
    # xunit also writes a "[FAIL]" line here for each failed test, told below.
    while ($xml =~ m{<RunInfo\b[^>]*\boutcome="Error"[^>]*>\s*<Text>(.*?)</Text>}gs) {
        my $text = decode($1);
        push @errors, $text unless $text =~ /\[FAIL\]\s*$/;
    }
}

if (@errors) {
    print "\n==== ", scalar(@errors), " error(s) outside the tests ====\n";
    print "$_\n" for map { first_lines($_, 3) } @errors;
}
exit 0 unless @failed;
print "\n==== ", scalar(@failed), " failed test(s) ====\n";
# Tests that failed alike (every test of a class whose fixture did not start, say) are told once, so that the end of
# the log still holds each distinct failure.
my (%same, @distinct);
for my $test (@failed) {
    my ($first) = grep { /\S/ } split /\n/, $test->{message};
    my $key = $first // '';
    push @distinct, $key unless $same{$key};
    push @{ $same{$key} }, $test;
}
for my $key (@distinct) {
    my ($test, @others) = @{ $same{$key} };
    print "  $test->{name}\n";
    print "$_\n" for first_lines($test->{message}, 8);
    # The frames in Pantheon's own code say where; the runtime's and the libraries' frames are in the log above.
    my @frames = grep { /Pantheon\./ } split /\n/, $test->{stack};
    print "$_\n" for first_lines(join("\n", @frames), 4);
    print "      (and ", scalar(@others), " more with the same first line)\n" if @others;
}
print "\nFailed:\n";
print "  $_->{name}\n" for @failed;
