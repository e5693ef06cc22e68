"""Synthetic demo posts in the platforms' real formats, EN + ES, toward the sample watchlist.

Why: the demo, the tests and the throughput benchmark need realistic traffic without real
people's posts. Most generated posts mention no target (as on a real feed); the rest mix
threats (direct, conditional, veiled, incitement) with the protected speech the product must
not alert on (hyperbole, criticism, insults, protest calls, news, quotes that condemn a
threat, support) and off-target uses of a target's name ("black ice", the German ICE train).
Sentences are hand-written (a few hundred, EN and ES, some Spanglish) and combined with
prefixes, suffixes and fillers; timestamps spread over the three complete ISO weeks before
`now`, with more on-target volume — and a threat spike — in the latest week.

All handles, ids and names are invented (ICE, a public agency, is the only real target).

    python -m threatwatch.demo_data --out DIR --n 3000       # regenerate a sample
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from .config import Target, Watchlist, load_watchlist

# English pools: "#category" starts a block; "[p]" persons only, "[o]" not for persons, "[i]" ICE only.
POOLS_EN = """
#threat_direct
[i] next {T} van I see on my street gets shot up, I'm not playing
[i] I'm going to ambush the {T} agents at the courthouse monday. got the plan ready
[o] I'm going to make {T} pay in blood this week. already picked the day
tonight I end {T}. loaded and on my way
I'm bringing my rifle to {T} on Monday and nobody is walking out
going to burn {T} to the ground tonight, I already have the gas cans in the truck
I will put a bullet in whoever runs {T} the next time I see them
{T} I know where you park. I'm coming for you friday
tomorrow at 8am I walk into {T} with my 9mm. this is not a joke
i'm gonna blow up {T} and every one of them inside
[p] {T} you are a dead man. I know your car and I know your route home
[p] I'm going to stab {T} outside the town hall meeting thursday
[p] going to wait outside {T}'s house and beat him until he stops moving
[o] I'm leaving a pipe bomb at {T} before the doors open. watch the news
I have a list and {T} is at the top. see you Monday
i will kill everyone at {T}. counting down the days
gonna shoot whoever from {T} shows up on my street next
I'm driving my truck into the crowd at {T} tomorrow morning
[o] this week I'm going to shoot up {T}, I've been planning it since spring
{T} is getting lit up friday. I bought the ammo today
#threat_conditional
[i] if {T} takes my brother I swear I'll shoot the first agent I see
[o] if {T} counts one more fake ballot I'm torching the place with them in it
if {T} cuts the program I'm coming with a shotgun, they've been warned
if {T} certifies that count I'm going down there with my AR and fixing it myself
if {T} doesn't reverse this by friday someone is getting shot and it'll be me doing it
one more letter from {T} about this and I'll come down there and put someone in the hospital
if {T} shows up at my cousin's place again I'm shooting first
if they vote yes tonight I'm burning {T} down with them inside
[p] if {T} wins again he won't survive the swearing-in, I'll see to it personally
touch my kids' school and I'll gun down every last one at {T}
if {T} comes to our block I've got rounds for every one of them
the day {T} closes our library is the day I show up with a gun
#threat_veiled
[i] {T} agents in this town should watch their backs. we know their cars
[o] hope {T} has good fire insurance. just saying
remember this post when something happens at {T}
{T} should really check under their cars before driving home this week
nice building {T} has. would be a shame if it caught fire with everyone inside
counting down the days until {T} gets what's coming. won't be long now
everyone who works at {T} better not come in on Monday. consider this your warning
[p] {T} won't be around for the next election. I'll make sure of that
people at {T} should start saying goodbye to their families
they'll be carrying people out of {T} in bags soon, and they'll know why
I'd stay away from {T} on friday if I were you. just a friendly tip
[p] {T} walks the same way home every night. alone. something to think about
the folks at {T} have no idea what's coming for them next week
#incitement
[i] every {T} agent is a target now. find where they sleep
[o] grab your guns and meet at {T} tonight. no more talking
somebody should firebomb {T}, it'd be doing the world a favor
someone needs to go to {T} and shoot every one of them. the address is public
we should all show up at {T} armed and drag them out
who's with me? burn {T} down tonight, bring bottles and gas
somebody please put {T} in the ground, you'd be a hero
[p] $500 to whoever takes out {T}. I'm serious
time to hunt {T} down one by one, they live among us
[o] patriots: {T} counts ballots at 9pm. bring rifles and stop them by force
go find {T} and make them bleed. they deserve it
someone with nothing to lose should pay {T} a visit with a gun
#hyperbole
[i] {T} can rot, honestly
this {T} press release is so bad I want to die
the {T} hold music is going to kill me
I'd murder a burrito right now but {T} has me on hold
{T} can go to hell
i'd kill for a {T} that actually answered emails lol
this {T} meeting is killing me slowly
I'm going to scream if {T} sends one more robocall
ugh {T} makes me want to throw my phone into the ocean
{T} is going to be the death of me, third form this week
if {T} moves pickup to 6am again I will simply perish
{T} out here killing it with the new schedule 🔥
the line at {T} today nearly killed me. four hours!
I'd rather die than sit through another {T} hearing
{T} just murdered my whole afternoon with that survey
my blood pressure vs {T}'s new parking rules, who wins
#criticism
[i] {T} detained a dad dropping his kids at school. this is cruelty, not policy
[i] {T} raids are tearing families apart and the city just watches
[p] {T} broke every promise he made on the campaign trail
[o] {T} lost 400 ballots and still won't explain how
{T} doesn't care about our neighborhood, never has
the budget {T} passed guts the after-school programs
{T} has failed our community again and everyone knows it
the decision by {T} is cruel and shortsighted
{T} needs to be held accountable for this mess
I've lost all trust in {T}. resign, all of you
shameful response from {T} to the flooding
{T} wasted millions and now wants more money from us
another cover-up from {T}. when does it end
{T} keeps ignoring parents, vote them out in november
the way {T} treated those families is a disgrace
zero transparency from {T}. file the records request, people
{T} should be defunded until they explain where the money went
honestly {T} has been a disaster for working families
{T} broke its own rules and thinks nobody noticed
the new policy from {T} will hurt the people who need help most
#insult
[i] {T} is a bunch of thugs with badges
[p] {T} is a clown and a liar
{T} is a joke
{T} is run by clowns
{T} are a bunch of useless idiots
what a pathetic excuse for leadership at {T}
{T}: absolute morons, every last one
[p] {T} is a spineless coward
[p] {T} is the dumbest official this county has ever had
{T} = incompetence on parade
#protest
[i] rapid response network: if you see {T}, film from a safe distance and call the hotline
[i] abolish {T}. march sunday 1pm from the plaza
sign the petition to audit {T}, link in bio
town hall with {T} wednesday, come ask the hard questions
rally outside {T} saturday at noon, bring signs and water
everyone call {T} tomorrow and demand they reverse the cuts
march to {T} thursday 5pm, peaceful and loud
boycott {T} until they listen. share this
pack the public comment at {T} monday at 6pm, sign up online
vigil outside {T} tonight, candles provided
sit-in at {T} starts at 9am. stay peaceful, stay together
email the board about {T} before the vote, template in replies
know your rights workshop about {T} this sunday at the library
#news
[i] {T} agents were seen outside the laundromat on 5th street this morning, witnesses say
[i] a judge ordered {T} to release two detained workers, court records show
[p] {T} will deliver the state of the city address on thursday
[o] {T} certified the results of the special election on friday
{T} is hiring, applications close at the end of the month
{T} announced new hours starting next week, according to a statement
BREAKING: {T} confirms an investigation into last month's incident
local reporters say {T} will hold a press conference at 3pm
{T} released its annual report on Tuesday
police increased patrols near {T} after threats were reported online
{T} officials said the system outage has been resolved
according to court filings, {T} faces a lawsuit over the policy
{T} says turnout was higher than expected this cycle
the council will vote on funding for {T} next week
#quote_condemn
the "hunt down {T}" posts going around are dangerous. criticize, organize, but no violence
someone posted "I'm going to shoot up {T}" and it has 200 likes. reported. this is sick
saw a guy say he'd burn {T} down with people inside. absolutely not okay, reported to police
threats like "{T} workers should die" are vile. stop it.
people writing "kill {T}" in the comments need to be banned. disagree all you want, no violence
to whoever wrote that {T} staff "deserve a bullet": you're the problem. reported.
#support
[i] shoutout to the {T} officer who helped after the crash on the highway
[p] {T} showed up to the flood shelter at 2am, respect
[o] smooth experience voting at {T} today, staff were great
thank you {T} for the quick help after the storm
proud of the staff at {T}, they work so hard
{T} did a great job with the new program
huge shoutout to {T} for staying open late
the folks at {T} were kind and patient with my grandma today
{T} 💙 thank you for everything
#neutral
[i] what are your rights if {T} knocks on your door? thread below
where is {T} holding the meeting this year?
{T} posted the agenda for next week
does anyone know what time {T} closes today?
heading to {T} to drop off some forms
{T} has a new phone number, update your contacts
what's the parking situation at {T}?
is {T} open on the holiday?
just got a letter from {T} about the schedule change
"""

POOLS_ES = """
#threat_direct
[i] al próximo de {T} que entre a mi colonia lo balaceo
hoy se acaba {T}, ya voy cargado
voy a quemar {T} esta noche, ya tengo la gasolina en el coche
mañana entro a {T} con la pistola y no sale nadie
[p] {T}, sé dónde vives. te voy a matar el viernes
le voy a pegar un tiro a quien mande en {T} la próxima vez que lo vea
[o] vamos a poner una bomba en {T} antes de la sesión
[p] voy a apuñalar a {T} a la salida del pleno
el lunes voy a {T} armado, y no es broma
a cualquiera de {T} que venga a mi calle le meto un balazo
ya compré las balas. {T} se entera el viernes
#threat_conditional
[i] si {T} se lleva a mi hermano, le disparo al primer agente que vea
si {T} corta el programa, voy con la escopeta. quedan avisados
si {T} aprueba eso, voy con el rifle a arreglarlo yo mismo
si {T} vuelve a mi barrio, disparo primero
como {T} cierre la escuela, los concejales no llegan vivos a casa
si votan que sí, quemo {T} con ellos dentro
#threat_veiled
[i] los de {T} que cuiden sus espaldas, sabemos cuáles son sus carros
acuérdense de este mensaje cuando pase algo en {T}
{T} debería revisar debajo de sus coches esta semana
qué bonito edificio tiene {T}. sería una pena que ardiera con todos dentro
los de {T} que empiecen a despedirse de sus familias
yo no iría a {T} el viernes. es un consejo
[p] {T} camina solo cada noche por la misma calle. ahí lo dejo
a {T} le queda poco. muy poco
#incitement
[i] cada agente de {T} es un objetivo. averigüen dónde duermen
agarren las armas y nos vemos en {T} esta noche
alguien tiene que ir a {T} y matarlos a todos, la dirección es pública
vamos todos armados a {T} y los sacamos a rastras
quemen {T} esta noche, traigan botellas y gasolina
[p] 500 dólares al que le dé un tiro a {T}
hay que cazar a los de {T} uno por uno
#hyperbole
la música de espera de {T} me va a matar
me muero de la vergüenza con {T}, en serio
que se vaya al infierno {T}
mataría por un {T} que contestara los correos jaja
{T} me va a matar con tanto papeleo
me muero si {T} vuelve a cambiar el horario
la fila en {T} hoy casi me mata, cuatro horas
me explota la cabeza con {T}, de verdad
#criticism
[i] {T} detuvo a un papá que dejaba a sus hijos en la escuela. eso es crueldad
[i] las redadas de {T} están destrozando familias
a {T} nunca le ha importado nuestro barrio
[p] {T} no ha cumplido ni una promesa
{T} ha vuelto a fallarle al barrio
vergonzosa la respuesta de {T} a las inundaciones
{T} tiene que rendir cuentas por este desastre
{T} despilfarra nuestro dinero y encima pide más
cero transparencia en {T}. que dimitan todos
lo que hizo {T} con esas familias es una vergüenza
{T} es corrupto de arriba abajo
la nueva medida de {T} perjudica a quien más lo necesita
#insult
[i] {T} son unos matones con placa
{T} es un chiste
{T} está lleno de payasos
{T} son unos inútiles
[p] {T} es un cobarde sinvergüenza
panda de incompetentes en {T}
#protest
[i] red de respuesta rápida: si ven a {T}, graben desde lejos y llamen a la línea
firmen la petición para auditar a {T}
[i] marcha contra {T} el domingo a la 1 desde la plaza
concentración frente a {T} el sábado a mediodía, traigan pancartas
llamen todos mañana a {T} y exijan que den marcha atrás
marcha pacífica hasta {T} el jueves a las 5
boicot a {T} hasta que escuchen. compartan
todos al pleno de {T} el lunes, hay turno de palabra
taller de derechos sobre {T} el domingo en la parroquia
#news
[i] vecinos reportan agentes de {T} frente a la lavandería de la calle 5
[i] una jueza ordenó a {T} liberar a dos trabajadores detenidos
[p] {T} dará su informe anual el jueves
{T} publicó la agenda de la próxima semana
{T} anunció nuevos horarios a partir de la próxima semana
ÚLTIMA HORA: {T} confirma una investigación sobre el incidente
{T} presentó hoy su informe anual
la policía reforzó la vigilancia cerca de {T} tras amenazas en redes
según documentos judiciales, {T} enfrenta una demanda
#quote_condemn
alguien escribió "hay que quemar {T}" y tiene cientos de likes. denunciado. qué asco
los que piden matar a la gente de {T} en los comentarios deberían ser expulsados. critiquen, pero sin violencia
leer "{T} merece una bala" me revuelve el estómago. basta ya
#support
[i] gracias al agente de {T} que ayudó en el accidente de la carretera
[p] {T} llegó al albergue a las 2 de la mañana, respeto
gracias {T} por ayudar tan rápido después de la tormenta
orgullosa del equipo de {T}, trabajan muchísimo
{T} hizo un gran trabajo con el nuevo programa
la gente de {T} fue muy amable con mi abuela hoy
#neutral
[i] ¿qué derechos tienes si {T} toca a tu puerta? abro hilo
¿dónde será la reunión de {T} este año?
¿alguien sabe a qué hora cierra {T} hoy?
voy a {T} a dejar unos papeles
¿{T} abre en el feriado?
me llegó una carta de {T} sobre el cambio de horario
#spanglish_none
bro {T} really said no más fondos para el programa, qué cringe
la junta de {T} was a mess anoche, nadie sabía nada
{T} otra vez con el drama, I'm so done
mi tía fue a {T} y la trataron super bien, shoutout
if {T} shows up en mi cuadra again vamos a grabar todo y llamar al abogado
que se vayan pa'l carajo {T}, seriously
#spanglish_threat
voy a {T} with my gun mañana, no estoy playing
{T} better watch out, los vamos a encontrar y no van a salir vivos
"""
# Off-target uses of a target's name: "target|lang|text".
OFF_TARGET = """
ICE|en|black ice on the highway this morning, drive safe everyone
ICE|en|watch out for ICE on the bridge near exit 12, two cars already in the ditch
ICE|en|took the ICE train from Frankfurt to Berlin, so fast and so comfy
ICE|en|my ICE was 40 minutes late at Köln Hbf again, classic Deutsche Bahn
ICE|en|put an ICE contact in your phone: In Case of Emergency. could save your life
ICE|en|ICE futures on the Intercontinental Exchange dipped today
ICE|en|ICE vs EV debate again... internal combustion engines aren't going anywhere yet
ICE|en|the rink ICE was perfect for hockey practice tonight
ICE|en|ICE ICE BABY still slaps at every wedding
ICE|en|roads are pure ICE out here, stay home if you can
ICE|es|cuidado con el hielo en la carretera, hay placas de ICE por todas partes en la sierra
ICE|es|viajé en el ICE de Múnich a Hamburgo, qué rápido va ese tren
ICE|es|se me acabaron los cubitos de hielo, alguien que traiga ICE para las bebidas
Bayside High School|en|traffic on the Bayside Highway is backed up to the tunnel again
Bayside High School|en|Bayside High Tide festival this weekend, live music on the pier
Harbor View Unified School District|en|Harbor View Unified Soccer Club tryouts are saturday at the park
Theo Lindqvist|en|reading a novel by some author named Lindqvist, pretty creepy vampire book
"""

FILLER_EN = """
anyone else's coffee taste burnt today or is it just my machine
finally finished the puzzle, 2000 pieces, only took three weeks
the sunset over the bay tonight was unreal
my cat has decided the keyboard is her bed now
hot take: pineapple on pizza is fine, fight me
traffic on 101 is a parking lot again
does anyone have a good recipe for vegan lasagna?
just ran my first 10k!! legs are jelly
new episode dropped and I'm not okay
why does the printer only jam when I'm late
grocery prices are wild this week
the farmers market had the best peaches
my kid lost a tooth at dinner, the tooth fairy is broke
rain all weekend, perfect excuse to stay in
learning to bake bread, attempt #4 was edible
who else is watching the game tonight
the new bakery downtown is worth the hype
can't believe it's already november
podcast recommendations for a long drive?
I repotted all my plants and now my floor is dirt
that concert last night was incredible
the bus was on time today, mark the calendar
my neighbor's dog learned to open the gate, send help
starting a book club, first pick is a mystery novel
spent the whole afternoon fixing a leaky faucet
the library book sale is this weekend, bring bags
fall colors are peaking up north
my sourdough starter is named Gerald
watched the meteor shower from the backyard
the dentist said I have zero cavities, I'm thriving
ok who keeps microwaving fish at work
tried a new hiking trail, got completely lost, 10/10
the kids built a fort out of every blanket we own
forgot my umbrella, of course it poured
first snow of the season up in the mountains
my phone battery dies at 40% now, cool cool
volunteering at the food bank saturday, we need more hands
the local team won in overtime!!
made soup for the whole week, feeling like an adult
anyone know a good mechanic near the harbor?
they finally fixed the pothole on my street
power went out for an hour, read by candlelight like a pioneer
my grandma's tamales recipe is undefeated
high school reunion next month, do I go
binge watched an entire season in one day, no regrets
the ferry ride this morning was so calm
I need a vacation from my vacation
found twenty bucks in my winter coat, best day
the new park playground is so nice
daylight saving time should be illegal
"""

FILLER_ES = """
qué rico el café de esta mañana
por fin terminé el rompecabezas de 2000 piezas
el atardecer en la playa hoy estuvo increíble
mi gato decidió que el teclado es su cama
alguien tiene una receta buena de arroz con leche?
el tráfico en la autopista está imposible otra vez
corrí mis primeros 10 km!! no siento las piernas
los precios del súper están por las nubes
en el mercado había unos mangos buenísimos
a mi hija se le cayó un diente en la cena
lluvia todo el fin de semana, perfecto para quedarse en casa
aprendiendo a hacer pan, el cuarto intento salió comestible
quién ve el partido esta noche?
la panadería nueva del centro vale la pena
ya es noviembre, no lo puedo creer
recomiéndenme podcasts para un viaje largo
anoche el concierto estuvo brutal
hoy el autobús llegó a tiempo, milagro
el perro del vecino aprendió a abrir la puerta
empiezo un club de lectura, primera novela de misterio
toda la tarde arreglando una llave que gotea
mi abuela hace las mejores empanadas del mundo
se fue la luz una hora, leí con velas
la feria del libro es este fin de semana
hice sopa para toda la semana, me siento adulta
alguien conoce un buen mecánico cerca del puerto?
por fin arreglaron el bache de mi calle
reunión de exalumnos el mes que viene, voy o no voy
encontré veinte pesos en la chaqueta, día perfecto
el parque nuevo tiene unos columpios preciosos
qué frío hace hoy, saquen las bufandas
la serie nueva me tiene enganchada
mis plantas por fin están floreciendo
voluntariado en el banco de alimentos el sábado, hacen falta manos
ganó el equipo en la prórroga!!
cumpleaños de mi sobrino, pastel de tres leches
el ferry esta mañana iba tranquilísimo
necesito vacaciones de mis vacaciones
qué ganas de ir a la playa
hoy toca limpieza general en casa
"""

PREFIX_EN = ["", "", "", "", "ok so ", "honestly ", "PSA: ", "reminder: ", "lmao ", "update: ", "not gonna lie, "]
SUFFIX_EN = ["", "", "", "", " 😤", " #localnews", " smh", " 🙏", "!!", " (thread 1/2)", " — please share", " #HarborView",
             " 🤦", " ...", " lol", " #Northgate"]
PREFIX_ES = ["", "", "", "", "ojo: ", "en serio, ", "ÚLTIMA HORA: ", "recordatorio: ", "jajaja ", "la neta "]
SUFFIX_ES = ["", "", "", "", " 😡", " #VillaSerena", " 🙏", "!!", " compartan", " ...", " jaja", " #noticias"]

THREAT_CATEGORIES = ("threat_direct", "threat_conditional", "threat_veiled", "incitement", "spanglish_threat")
# share of each category among on-target posts (the threat share is scaled per week below)
CATEGORY_WEIGHTS = {
    "criticism": 20, "neutral": 12, "news": 12, "support": 10, "protest": 10, "hyperbole": 10, "insult": 8,
    "quote_condemn": 4, "threat_direct": 4, "threat_conditional": 3, "threat_veiled": 3, "incitement": 3,
}
TARGET_WEIGHTS = {
    "ICE": 35, "Harbor View Unified School District": 12, "Bayside High School": 12,
    "Northgate County Elections Office": 13, "Theo Lindqvist": 12, "Ayuntamiento de Villa Serena": 10,
    "Fundación Puentes Abiertos": 6,
}
SPANISH_SHARE = {"ICE": 0.45, "Ayuntamiento de Villa Serena": 0.85, "Fundación Puentes Abiertos": 0.6}
WEEK_VOLUME = (0.27, 0.31, 0.42)  # on-target share per week, oldest first
WEEK_THREAT = (0.6, 1.0, 2.6)  # threat weight multiplier per week: the latest week shows a spike
FORMAT_WEIGHTS = {"jetstream": 40, "mastodon": 15, "x": 15, "reddit": 15, "telegram": 5, "csv": 10}
DEMO_FORMATS = tuple(FORMAT_WEIGHTS)


def _parse_pools(text: str) -> dict[str, list[tuple[str, str]]]:
    """'#category' blocks → {category: [(scope, sentence)]}.

    Scope: '' any target, 'p' persons only, 'o' organisations/places only, 'i' ICE only.
    """
    pools: dict[str, list[tuple[str, str]]] = {}
    cat = ""
    for line in text.strip().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            cat = line[1:]
            pools[cat] = []
            continue
        scope = ""
        if line[:4] in ("[p] ", "[o] ", "[i] "):
            scope, line = line[1], line[4:]
        pools[cat].append((scope, line))
    return pools


POOLS = {"en": _parse_pools(POOLS_EN), "es": _parse_pools(POOLS_ES)}
_PERSON_TEMPLATES = {s for p in POOLS.values() for v in p.values() for scope, s in v if scope == "p"}
FILLERS = {"en": FILLER_EN.strip().splitlines(), "es": FILLER_ES.strip().splitlines()}
PREFIX = {"en": PREFIX_EN, "es": PREFIX_ES}
SUFFIX = {"en": SUFFIX_EN, "es": SUFFIX_ES}
OFF = [tuple(line.split("|", 2)) for line in OFF_TARGET.strip().splitlines()]


def sentence_count() -> int:
    """How many distinct hand-written sentences the generator draws from."""
    return sum(len(v) for p in POOLS.values() for v in p.values()) + sum(len(v) for v in FILLERS.values()) + len(OFF)


@dataclass
class Item:
    """One generated post before it is rendered in a platform format."""

    text: str
    lang: str
    created_at: datetime
    category: str  # a pool category, "filler" or "off_target"
    target: str | None  # the target named (also for off-target uses)
    on_target: bool
    native_id: str = ""  # the id the reader will give it (filled by the writer)


def sample_watchlist_path() -> Path:
    return Path(str(resources.files("threatwatch") / "samples" / "watchlist.toml"))


# How posters actually write the sample targets (aliases like "ICE raid" exist for matching,
# not as a noun to drop into any sentence); other watchlists use the name and aliases.
SURFACES = {
    "ICE": {"en": ["ICE"] * 5 + ["ICE agents", "Immigration and Customs Enforcement"],
            "es": ["ICE", "ICE", "la migra", "la migra", "la ICE"]},
    "Theo Lindqvist": {"en": ["Theo Lindqvist", "Mayor Lindqvist", "Mayor Lindqvist", "Lindqvist"],
                       "es": ["Theo Lindqvist", "el alcalde Lindqvist", "Lindqvist"]},
}


def _surface(t: Target, lang: str, rng: random.Random, person_as_place: bool = False) -> str:
    """The target as a poster would name it; a person in a sentence about a place → their office."""
    forms = SURFACES.get(t.name, {}).get(lang)
    if forms:
        form = rng.choice(forms)
    else:
        alts = [t.name, *t.aliases, *t.aliases_by_lang.get(lang, [])]
        form = t.name if rng.random() < 0.45 else rng.choice(alts)
    if person_as_place:
        if lang == "es":
            bare = form.removeprefix("el ")
            return ("la oficina del " if bare != form else "la oficina de ") + bare
        return f"{form}'s office"
    return form


def _weeks(now: datetime) -> list[datetime]:
    """Monday 00:00 UTC of the three complete ISO weeks before `now`, oldest first."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return [monday - timedelta(weeks=k) for k in (3, 2, 1)]


_HOURS = [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 9, 8, 8, 8, 8, 9, 10, 10, 9, 6, 3]


def _time_in(week: datetime, rng: random.Random) -> datetime:
    hour = rng.choices(range(24), weights=_HOURS)[0]
    return week + timedelta(days=rng.randrange(7), hours=hour, seconds=rng.randrange(3600),
                            microseconds=rng.randrange(1_000_000))


def _decorate(text: str, lang: str, rng: random.Random, lower_ok: bool = True) -> str:
    text = rng.choice(PREFIX[lang]) + text + rng.choice(SUFFIX[lang])
    r = rng.random()
    if r < 0.12:
        text = text + " " + rng.choice(FILLERS[lang])
    elif r < 0.18:
        text = rng.choice(FILLERS[lang]) + ". " + text
    if lower_ok and rng.random() < 0.1:
        text = text.lower()
    return text


_EVASIONS = [("kill", "k1ll"), ("shoot", "sh00t"), ("bomb", "b0mb"), ("matar", "m4tar"), ("bullet", "bu11et"),
             ("gun", "g u n"), ("dead", "d3ad")]


def _evade(text: str, rng: random.Random) -> str:
    """Occasional obfuscation ("k1ll", "g u n") as real posters use to dodge filters."""
    for a, b in _EVASIONS:
        if a in text and rng.random() < 0.5:
            return text.replace(a, b, 1)
    return text


def make_items(n: int, *, seed: int = 7, on_target_rate: float = 0.25, now: datetime | None = None,
               watchlist: Watchlist | None = None) -> list[Item]:
    """`n` generated posts (text, language, time, intended category), before formatting."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    wl = watchlist or load_watchlist(sample_watchlist_path())
    targets = {t.name: t for t in wl.targets}
    names = [t for t in TARGET_WEIGHTS if t in targets] or list(targets)
    tweights = [TARGET_WEIGHTS.get(t, 5) for t in names]
    weeks = _weeks(now)
    items: list[Item] = []
    for _ in range(n):
        if rng.random() >= on_target_rate:
            lang = "es" if rng.random() < 0.4 else "en"
            items.append(Item(_decorate(rng.choice(FILLERS[lang]), lang, rng), lang,
                              _time_in(rng.choice(weeks), rng), "filler", None, False))
            continue
        wi = rng.choices(range(3), weights=WEEK_VOLUME)[0]
        when = _time_in(weeks[wi], rng)
        if rng.random() < 0.08:  # a target's name used for something else
            tname, lang, text = rng.choice(OFF)
            items.append(Item(_decorate(text, lang, rng, lower_ok=False), lang, when, "off_target", tname, False))
            continue
        tname = rng.choices(names, weights=tweights)[0]
        t = targets[tname]
        lang = "es" if rng.random() < SPANISH_SHARE.get(tname, 0.25) else "en"
        pools = POOLS[lang]
        if lang == "es" and rng.random() < 0.12:
            cat = "spanglish_threat" if rng.random() < 0.25 else "spanglish_none"
        else:
            cats = list(CATEGORY_WEIGHTS)
            w = [CATEGORY_WEIGHTS[c] * (WEEK_THREAT[wi] if c in THREAT_CATEGORIES else 1.0) for c in cats]
            cat = rng.choices(cats, weights=w)[0]
        person = t.kind == "person"
        choices = [s for scope, s in pools[cat]
                   if scope == "" or (scope == "p" and person) or (scope == "o" and not person)
                   or (scope == "i" and tname == "ICE")]
        template = rng.choice(choices)
        # most sentences fit a place or an organisation; said of a person they are about the office
        as_place = person and template not in _PERSON_TEMPLATES and rng.random() < 0.7
        sentence = template.replace("{T}", _surface(t, lang, rng, as_place))
        if cat in THREAT_CATEGORIES and rng.random() < 0.08:
            sentence = _evade(sentence, rng)
        items.append(Item(_decorate(sentence, lang, rng, lower_ok=not t.case_sensitive), lang, when, cat, tname, True))
    items.sort(key=lambda it: it.created_at)
    return items


# --------------------------------------------------------------------------- ids and handles

_B32S = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable (atproto TIDs)
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B36 = string.digits + string.ascii_lowercase
_SYL = ["ra", "mo", "ki", "lu", "ve", "sa", "to", "ne", "pa", "li", "do", "mi", "ca", "ber", "tal", "son", "ria",
        "quin", "dar", "lo"]
_WORDS = ["river", "maple", "quiet", "kettle", "harbor", "lantern", "copper", "meadow", "sunny", "pine", "cedar",
          "moth", "comet", "violet", "tidal", "paper", "fox", "owl", "cloud", "mango", "luna", "sol", "nube", "rio"]
_NAMES = ["Ana", "Luis", "Marta", "Jon", "Priya", "Kofi", "Elena", "Sam", "Noor", "Diego", "Mei", "Tomás", "Iris",
          "Omar", "Lucía", "Ben", "Rosa", "Ivan", "Zoe", "Andrés"]


_PAIRS = [a + b for a in _B32S for b in _B32S]  # 10 bits → two characters, for speed


def tid(time_us: int, clock: int) -> str:
    """An atproto TID (record key): 53-bit microseconds + 10-bit clock id, base32-sortable."""
    v = (time_us << 10) | (clock & 0x3FF)
    p = _PAIRS
    return (_B32S[(v >> 60) & 31] + p[(v >> 50) & 1023] + p[(v >> 40) & 1023] + p[(v >> 30) & 1023]
            + p[(v >> 20) & 1023] + p[(v >> 10) & 1023] + p[v & 1023])


def _did(rng: random.Random) -> str:
    return "did:plc:" + "".join(rng.choice(_B32) for _ in range(24))


def _cid(rng: random.Random) -> str:
    return "bafyrei" + "".join(rng.choice(_B32) for _ in range(52))


def _handle(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.4:
        return rng.choice(_WORDS) + rng.choice(_WORDS) + (str(rng.randrange(100)) if rng.random() < 0.5 else "")
    if style < 0.7:
        return f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}"
    return "".join(rng.choice(_SYL) for _ in range(rng.randint(2, 3))) + str(rng.randrange(10, 999))


def _snowflake(dt: datetime, rng: random.Random) -> str:
    ms = int(dt.timestamp() * 1000)
    return str(((ms - 1288834974657) << 22) | rng.getrandbits(22))


def _b36(v: int) -> str:
    out = ""
    while v:
        v, r = divmod(v, 36)
        out = _B36[r] + out
    return out or "0"


def _iso_ms(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- writers


def _jetstream_events(items: list[Item], rng: random.Random) -> Iterator[dict]:
    authors = [_did(rng) for _ in range(max(3, len(items) // 3))]
    recent: list[tuple[str, str]] = []
    for it in items:
        did = rng.choice(authors)
        time_us = int(it.created_at.timestamp() * 1_000_000) + rng.randrange(200_000, 3_000_000)
        if rng.random() < 0.12:  # the other events a Jetstream dump holds
            other = rng.random()
            if other < 0.6 and recent:
                uri, cid = rng.choice(recent)
                yield {"did": rng.choice(authors), "time_us": time_us - 1, "kind": "commit", "commit": {
                    "rev": tid(time_us - 1, 7), "operation": "create", "collection": "app.bsky.feed.like",
                    "rkey": tid(time_us - 1, 3), "record": {"$type": "app.bsky.feed.like",
                                                             "createdAt": _iso_ms(it.created_at),
                                                             "subject": {"cid": cid, "uri": uri}}, "cid": _cid(rng)}}
            elif other < 0.8:
                yield {"did": did, "time_us": time_us - 1, "kind": "identity", "identity": {
                    "did": did, "handle": _handle(rng) + ".bsky.social", "seq": rng.randrange(10**9, 10**10),
                    "time": _iso_ms(it.created_at)}}
            elif recent:
                uri, _ = rng.choice(recent)
                yield {"did": uri.split("/")[2], "time_us": time_us - 1, "kind": "commit", "commit": {
                    "rev": tid(time_us - 1, 9), "operation": "delete", "collection": "app.bsky.feed.post",
                    "rkey": uri.rsplit("/", 1)[1]}}
        rkey = tid(time_us, rng.randrange(1024))
        cid = _cid(rng)
        record: dict = {"$type": "app.bsky.feed.post", "createdAt": _iso_ms(it.created_at), "langs": [it.lang],
                        "text": it.text}
        if recent and rng.random() < 0.15:
            puri, pcid = rng.choice(recent)
            record["reply"] = {"parent": {"cid": pcid, "uri": puri}, "root": {"cid": pcid, "uri": puri}}
        elif recent and rng.random() < 0.06:
            quri, qcid = rng.choice(recent)
            record["embed"] = {"$type": "app.bsky.embed.record", "record": {"cid": qcid, "uri": quri}}
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        it.native_id = f"bluesky:{uri}"
        recent.append((uri, cid))
        if len(recent) > 50:
            recent.pop(0)
        yield {"did": did, "time_us": time_us, "kind": "commit", "commit": {
            "rev": tid(time_us, 5), "operation": "create", "collection": "app.bsky.feed.post", "rkey": rkey,
            "record": record, "cid": cid}}


def _html(text: str) -> str:
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    words = []
    for w in esc.split(" "):
        if w.startswith("#") and len(w) > 1:
            tag = w[1:].rstrip("!.,")
            words.append(f'<a href="https://{{host}}/tags/{tag.lower()}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>'
                         + w[1 + len(tag):])
        else:
            words.append(w)
    return "<p>" + " ".join(words) + "</p>"


_INSTANCES = ["tooters.example", "harborview.social.example", "mastodon.example", "social.example.es",
              "fedi.villaserena.example"]


def _mastodon_statuses(items: list[Item], rng: random.Random) -> list[dict]:
    accounts = []
    for i in range(max(3, len(items) // 4)):
        host = rng.choice(_INSTANCES)
        user = _handle(rng)
        accounts.append({"id": str(109_000_000_000_000_000 + i * 7919), "username": user, "acct": f"{user}@{host}",
                         "display_name": rng.choice(_NAMES), "locked": False, "bot": False, "discoverable": True,
                         "group": False, "created_at": "2023-02-01T00:00:00.000Z", "note": "",
                         "url": f"https://{host}/@{user}", "uri": f"https://{host}/users/{user}",
                         "avatar": f"https://{host}/avatars/original/missing.png",
                         "avatar_static": f"https://{host}/avatars/original/missing.png",
                         "followers_count": rng.randrange(2000), "following_count": rng.randrange(800),
                         "statuses_count": rng.randrange(20000), "emojis": [], "fields": []})
    out: list[dict] = []
    for it in items:
        a = rng.choice(accounts)
        host = a["url"].split("/")[2]
        sid = str(int(it.created_at.timestamp() * 1000) << 16 | rng.getrandbits(16))
        st = {"id": sid, "created_at": _iso_ms(it.created_at), "in_reply_to_id": None,
              "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "", "visibility": "public",
              "language": it.lang, "uri": f"{a['uri']}/statuses/{sid}", "url": f"{a['url']}/{sid}",
              "replies_count": rng.randrange(5), "reblogs_count": rng.randrange(10),
              "favourites_count": rng.randrange(40), "edited_at": None,
              "content": _html(it.text).replace("{host}", host), "reblog": None, "application": None,
              "account": a, "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": None,
              "poll": None}
        if out and rng.random() < 0.12:
            parent = rng.choice(out)
            st["in_reply_to_id"] = parent["id"]
            st["in_reply_to_account_id"] = parent["account"]["id"]
        it.native_id = f"mastodon:{st['uri']}"
        if rng.random() < 0.05:  # seen as a boost by another account
            b = rng.choice(accounts)
            bid = str(int(sid) + 1)
            out.append({**st, "id": bid, "uri": f"{b['uri']}/statuses/{bid}/activity", "url": None,
                        "content": "", "language": None, "account": b, "reblog": st})
        else:
            out.append(st)
    return out


def _x_pages(items: list[Item], rng: random.Random) -> list[dict]:
    users = [{"id": str(rng.randrange(10**17, 10**19)), "name": rng.choice(_NAMES), "username": _handle(rng)[:15]}
             for _ in range(max(3, len(items) // 3))]
    pages = []
    posted: list[str] = []
    for start in range(0, len(items), 100):
        chunk = items[start:start + 100]
        data, used = [], {}
        for it in chunk:
            u = rng.choice(users)
            used[u["id"]] = u
            tid_ = _snowflake(it.created_at, rng)
            tw: dict = {"id": tid_, "text": it.text, "author_id": u["id"], "created_at": _iso_ms(it.created_at),
                        "lang": it.lang, "conversation_id": tid_, "edit_history_tweet_ids": [tid_],
                        "public_metrics": {"retweet_count": rng.randrange(20), "reply_count": rng.randrange(10),
                                           "like_count": rng.randrange(100), "quote_count": rng.randrange(5)}}
            if posted and rng.random() < 0.12:
                tw["referenced_tweets"] = [{"type": "replied_to", "id": rng.choice(posted)}]
                tw["conversation_id"] = tw["referenced_tweets"][0]["id"]
            elif posted and rng.random() < 0.05:
                tw["referenced_tweets"] = [{"type": "quoted", "id": rng.choice(posted)}]
            it.native_id = f"x:{tid_}"
            posted.append(tid_)
            data.append(tw)
        data.reverse()  # search results come newest first
        pages.append({"data": data, "includes": {"users": list(used.values())},
                      "meta": {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"], "result_count": len(data),
                               "next_token": "".join(rng.choice(_B36) for _ in range(40))}})
    return pages


_SUBS = {"en": ["HarborView", "northgate", "BaysideParents", "news", "immigration"],
         "es": ["VillaSerena", "mexico", "es", "inmigracion"]}


def _reddit_dump(items: list[Item], rng: random.Random) -> tuple[list[dict], list[dict]]:
    comments, subs = [], []
    links: list[tuple[str, str]] = []
    base = rng.randrange(36**6, 36**7)
    for i, it in enumerate(items):
        author = _handle(rng) if rng.random() > 0.05 else "[deleted]"
        sub = rng.choice(_SUBS[it.lang])
        created = int(it.created_at.timestamp())
        if not links or rng.random() < 0.3:
            sid = _b36(base + i * 13)
            title, _, rest = it.text.partition(". ")
            subs.append({"author": author, "created_utc": created, "domain": f"self.{sub}", "id": sid,
                         "is_self": True, "num_comments": rng.randrange(40), "over_18": False,
                         "permalink": f"/r/{sub}/comments/{sid}/{'_'.join(title.lower().split()[:5])}/",
                         "retrieved_on": created + 86400, "score": rng.randrange(200), "selftext": rest,
                         "subreddit": sub, "subreddit_id": "t5_" + _b36(hash(sub) & 0xFFFFFF), "title": title,
                         "url": f"https://www.reddit.com/r/{sub}/comments/{sid}/"})
            links.append((sid, sub))
            it.native_id = f"reddit:t3_{sid}"
            continue
        link, lsub = rng.choice(links[-30:])
        cid = _b36(base * 7 + i)
        parent = f"t3_{link}" if rng.random() < 0.6 or not comments else f"t1_{rng.choice(comments[-20:])['id']}"
        comments.append({"all_awardings": [], "author": author, "author_flair_text": None, "body": it.text,
                         "controversiality": 0, "created_utc": created, "distinguished": None, "gilded": 0,
                         "id": cid, "link_id": f"t3_{link}", "parent_id": parent,
                         "permalink": f"/r/{lsub}/comments/{link}/_/{cid}/", "retrieved_on": created + 86400,
                         "score": rng.randrange(-5, 80), "stickied": False, "subreddit": lsub,
                         "subreddit_id": "t5_" + _b36(hash(lsub) & 0xFFFFFF)})
        it.native_id = f"reddit:t1_{cid}"
    return comments, subs


def _telegram_export(items: list[Item], rng: random.Random) -> dict:
    chat_id = 1_700_000_000 + rng.randrange(10**8)
    members = [(f"{rng.choice(_NAMES)} {rng.choice(_WORDS).title()}", f"user{rng.randrange(10**9, 10**10)}")
               for _ in range(max(3, len(items) // 5))]
    msgs: list[dict] = []
    mid = 1
    for it in items:
        if rng.random() < 0.04:
            name, uid = rng.choice(members)
            msgs.append({"id": mid, "type": "service", "date": it.created_at.strftime("%Y-%m-%dT%H:%M:%S"),
                         "date_unixtime": str(int(it.created_at.timestamp()) - 30), "actor": name, "actor_id": uid,
                         "action": "join_group_by_link", "inviter": "Group", "text": "", "text_entities": []})
            mid += 1
        name, uid = rng.choice(members)
        ents: list = [{"type": "plain", "text": it.text}]
        text: str | list = it.text
        tags = [w for w in it.text.split() if w.startswith("#") and len(w) > 1]
        if tags:  # Telegram splits hashtags out as entities
            before, tag, after = it.text.partition(tags[0])
            ents = [e for e in ({"type": "plain", "text": before}, {"type": "hashtag", "text": tag},
                                {"type": "plain", "text": after}) if e["text"]]
            text = [e["text"] if e["type"] == "plain" else e for e in ents]
        m = {"id": mid, "type": "message", "date": it.created_at.strftime("%Y-%m-%dT%H:%M:%S"),
             "date_unixtime": str(int(it.created_at.timestamp())), "from": name, "from_id": uid, "text": text,
             "text_entities": ents}
        if msgs and rng.random() < 0.15:
            m["reply_to_message_id"] = rng.choice(msgs)["id"]
        msgs.append(m)
        it.native_id = f"telegram:{chat_id}/{mid}"
        mid += 1
    return {"name": "Vecinos de Villa Serena", "type": "public_supergroup", "id": chat_id, "messages": msgs}


def _csv_rows(items: list[Item], rng: random.Random) -> list[dict]:
    rows = []
    for i, it in enumerate(items):
        rid = f"f{1000 + i}"
        rows.append({"id": rid, "created_at": it.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "author": _handle(rng), "text": it.text,
                     "url": f"https://forum.harborview.example/t/{rid}", "lang": it.lang})
        it.native_id = f"csv:{rid}"
    return rows


def _dump_lines(objs: list[dict]) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in objs).encode()


def generate(out_dir: str | Path, n: int = 3000, seed: int = 7, on_target_rate: float = 0.25,
             formats: tuple[str, ...] | list[str] = DEMO_FORMATS, *, now: datetime | None = None,
             labels: bool = False, bad_lines: bool = True) -> dict[str, object]:
    """Write `n` synthetic posts into `out_dir`, split across `formats`; return a summary.

    Files: jetstream.jsonl, mastodon_timeline.json, x_search_pages.jsonl, RC_*.zst (Reddit
    comments) + RS_*.ndjson (submissions), telegram_result.json, forum_posts.csv, and
    bad_lines.jsonl (a few deliberately broken lines, so the demo shows rejects).
    `labels=True` also writes labels.jsonl: each post id with its intended category and target
    (kept outside the sample folder the demo reads, as it is not a post file).
    """
    import zstandard

    unknown = [f for f in formats if f not in FORMAT_WEIGHTS]
    if unknown:
        raise ValueError(f"formats: unknown {unknown}; known: {', '.join(FORMAT_WEIGHTS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(UTC)
    items = make_items(n, seed=seed, on_target_rate=on_target_rate, now=now)
    rng = random.Random(seed + 1)
    fw = [FORMAT_WEIGHTS[f] for f in formats]
    by_fmt: dict[str, list[Item]] = {f: [] for f in formats}
    for it in items:
        by_fmt[rng.choices(list(formats), weights=fw)[0]].append(it)
    month = _weeks(now)[-1].strftime("%Y-%m")
    files: list[str] = []

    def write(name: str, data: bytes) -> None:
        (out / name).write_bytes(data)
        files.append(name)

    if by_fmt.get("jetstream"):
        write("jetstream.jsonl", _dump_lines(list(_jetstream_events(by_fmt["jetstream"], rng))))
    if by_fmt.get("mastodon"):
        # a saved timeline page, as GET /api/v1/timelines/... returns it (newest first)
        write("mastodon_timeline.json", json.dumps(_mastodon_statuses(by_fmt["mastodon"], rng)[::-1],
                                                   ensure_ascii=False).encode())
    if by_fmt.get("x"):
        write("x_search_pages.jsonl", _dump_lines(_x_pages(by_fmt["x"], rng)))
    if by_fmt.get("reddit"):
        comments, subs = _reddit_dump(by_fmt["reddit"], rng)
        write(f"RC_{month}.zst", zstandard.ZstdCompressor(level=12).compress(_dump_lines(comments)))
        write(f"RS_{month}.ndjson", _dump_lines(subs))
    if by_fmt.get("telegram"):
        write("telegram_result.json", json.dumps(_telegram_export(by_fmt["telegram"], rng), ensure_ascii=False,
                                                 indent=1).encode())
    if by_fmt.get("csv"):
        with open(out / "forum_posts.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["id", "created_at", "author", "text", "url", "lang"])
            w.writeheader()
            w.writerows(_csv_rows(by_fmt["csv"], rng))
        files.append("forum_posts.csv")
    if bad_lines:
        write("bad_lines.jsonl", _bad_lines(now, rng))
    if labels:
        write("labels.jsonl", _dump_lines([{"id": it.native_id, "category": it.category, "target": it.target,
                                            "on_target": it.on_target, "lang": it.lang} for it in items]))
    cats = Counter(it.category for it in items)
    return {"n": len(items), "files": files, "categories": dict(cats),
            "on_target": sum(it.on_target for it in items), "weeks": [w.date().isoformat() for w in _weeks(now)]}


def _bad_lines(now: datetime, rng: random.Random) -> bytes:
    """A Jetstream file with one good event and two broken lines (malformed JSON, missing text)."""
    week = _weeks(now)[-1]
    it = Item("Bayside High School parents night moved to the library", "en", week + timedelta(days=1, hours=18),
              "neutral", "Bayside High School", True)
    good = next(_jetstream_events([it], random.Random(1)))
    missing_text = json.loads(json.dumps(good))
    missing_text["commit"]["rkey"] = tid(missing_text["time_us"] + 5, 1)
    del missing_text["commit"]["record"]["text"]
    cut = json.dumps(good)[:-40].replace('"kind":', '"kind" ')  # malformed: a key without its colon
    return (json.dumps(good) + "\n" + cut + "\n" + json.dumps(missing_text) + "\n").encode()


# --------------------------------------------------------------------------- benchmark stream


_SYL = ("ba", "ke", "ti", "lo", "mu", "sa", "ne", "ri", "po", "du", "fa", "ge", "hi", "jo", "ku", "la", "me", "ni",
        "ro", "zu")


def _syllables(i: int) -> str:
    """A pronounceable name for a number ("kelo"): letters only, no letter three times in a
    row, so a handle never looks like leetspeak or stretched letters to the folding prefilter
    (real handles mostly do not; a bench where every post took the exact path would mislead)."""
    out = [_SYL[i % 20]]
    while i >= 20:
        i //= 20
        out.append(_SYL[i % 20])
    return "".join(out)


def generate_jetstream_stream(n: int, on_target_rate: float = 0.05, seed: int = 0, *,
                              other_events: float = 0.0, now: datetime | None = None) -> Iterator[str]:
    """Yield `n` Jetstream event lines (str, newline-terminated) fast, for throughput benchmarks.

    Texts come from a pre-rendered pool of generated posts (so matching and judging see the same
    mix as the demo); ids, times and authors vary per line, and every post opens with a reply
    handle of its own, so no two texts are equal: a judge that caches by text gains nothing
    here that it would not gain on a real stream. `other_events` is the share of non-post lines
    (likes, identity events) mixed in.
    """
    rng = random.Random(seed)
    pool = make_items(min(max(n // 50, 2000), 20000), seed=seed, on_target_rate=on_target_rate, now=now)
    texts = [json.dumps(it.text, ensure_ascii=False) for it in pool]
    langs = [it.lang for it in pool]
    times = [_iso_ms(it.created_at) for it in pool]
    dids = [_did(rng) for _ in range(5000)]
    cid = _cid(rng)
    start_us = int((now or datetime.now(UTC)).timestamp() * 1_000_000) - n * 1000
    rand = rng.random
    handles = ["ana", "jt", "mike.b", "sol", "rae", "dm", "kat", "lu", "pete", "vero"]
    npool, ndid, nhandle = len(texts), len(dids), len(handles)
    h = hashlib.blake2b(str(seed).encode(), digest_size=4).hexdigest()
    for i in range(n):
        time_us = start_us + i * 1000
        did = dids[int(rand() * ndid)]
        if other_events and rand() < other_events:
            yield (f'{{"did":"{did}","time_us":{time_us},"kind":"commit","commit":{{"rev":"{tid(time_us, 1)}",'
                   f'"operation":"create","collection":"app.bsky.feed.like","rkey":"{tid(time_us, 2)}",'
                   f'"record":{{"$type":"app.bsky.feed.like","createdAt":"2025-01-01T00:00:00.000Z",'
                   f'"subject":{{"cid":"{cid}","uri":"at://{did}/app.bsky.feed.post/{h}"}}}},"cid":"{cid}"}}}}\n')
            continue
        k = int(rand() * npool)
        rkey = tid(time_us, i)
        yield (f'{{"did":"{did}","time_us":{time_us},"kind":"commit","commit":{{"rev":"{rkey}",'
               f'"operation":"create","collection":"app.bsky.feed.post","rkey":"{rkey}",'
               f'"record":{{"$type":"app.bsky.feed.post","createdAt":"{times[k]}",'
               f'"langs":["{langs[k]}"],"text":"@{handles[int(rand() * nhandle)]}.{_syllables(i)} {texts[k][1:]}}},'
               f'"cid":"{cid}"}}}}\n')


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m threatwatch.demo_data", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--n", type=int, default=3000, help="number of posts (default 3000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--on-target-rate", type=float, default=0.25)
    ap.add_argument("--formats", default=",".join(DEMO_FORMATS), help="comma-separated subset of " + ", ".join(DEMO_FORMATS))
    ap.add_argument("--labels", action="store_true", help="also write labels.jsonl (intended category per post)")
    ap.add_argument("--jetstream-lines", type=int, default=0,
                    help="instead: write N benchmark Jetstream lines to OUT/bench_jetstream.jsonl")
    a = ap.parse_args(argv)
    if a.jetstream_lines:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        path = Path(a.out) / "bench_jetstream.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(generate_jetstream_stream(a.jetstream_lines, a.on_target_rate, a.seed))
        print(f"wrote {a.jetstream_lines:,} lines to {path}")
        return
    summary = generate(a.out, n=a.n, seed=a.seed, on_target_rate=a.on_target_rate,
                       formats=[f.strip() for f in a.formats.split(",") if f.strip()], labels=a.labels)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
